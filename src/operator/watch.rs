//! Whether each of the reflectors' watches is up, which decides whether the
//! statuses and events it feeds are known (see [`crate::observe::watches`]).
//!
//! A watch is down from its first error (a failed list, a broken watch, a
//! watch that cannot start) until the list that starts it over completes.
//! kube's watcher resumes most broken watches without listing again, and a
//! resumed watch of a quiet kind yields nothing that would say it is back;
//! so after any error the watch here is dropped and started over from a
//! list, whose end is the sign that the cache is whole again (client-go's
//! reflector lists again after most errors too). The cache keeps its objects
//! meanwhile: they are what was last known, but a rule reading the statuses
//! or events of that watch is unknown, never decided on them.

use crate::observe::watches::{Down, Watch};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::runtime::watcher::{self, watcher, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// The watches that are down, as the reflectors find them; cheap to clone
/// and shared with the evaluation loop.
#[derive(Debug, Clone, Default)]
pub struct Health(Arc<Mutex<BTreeSet<Watch>>>);

impl Health {
    /// The watches down now.
    pub fn down(&self) -> Down {
        Down(self.lock().clone())
    }

    /// Notes what `item` of `watch`'s stream says of it: an error puts it
    /// down, the end of a list puts it up. Other items leave it as it is
    /// (and take no lock: a pod watch yields thousands a second).
    pub fn note<K, E: std::fmt::Display>(&self, watch: Watch, item: &Result<Event<K>, E>) {
        match item {
            Err(error) => {
                if self.lock().insert(watch) {
                    tracing::warn!(%watch, %error, "watch down: the statuses and events it feeds are unknown until it lists again");
                }
            }
            Ok(Event::InitDone) => {
                if self.lock().remove(&watch) {
                    tracing::info!(%watch, "watch listed again: its statuses and events are known");
                }
            }
            Ok(_) => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<Watch>> {
        // A panic elsewhere while holding the lock leaves the set usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every `K` of `api`, listed and then watched, started over from a list
/// after each error (the caller backs off between attempts).
pub(super) fn restarting<K>(
    api: Api<K>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    type Watching<K> = BoxStream<'static, Result<Event<K>, watcher::Error>>;
    futures::stream::unfold(None::<Watching<K>>, move |current| {
        let api = api.clone();
        async move {
            let mut stream =
                current.unwrap_or_else(|| watcher(api, watcher::Config::default()).boxed());
            match stream.next().await? {
                Ok(event) => Some((Ok(event), Some(stream))),
                Err(error) => Some((Err(error), None)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An item of a watch's stream (a test double's: no object).
    type Item = Result<Event<()>, String>;

    fn error() -> Item {
        Err("connection refused".into())
    }

    fn down(health: &Health) -> Vec<Watch> {
        health.down().0.into_iter().collect()
    }

    #[test]
    fn a_watch_is_down_from_an_error_until_a_list_completes() {
        let health = Health::default();
        let listed: Item = Ok(Event::InitDone);
        health.note(Watch::Pods, &listed);
        assert!(health.down().is_empty(), "listed: up");
        health.note(Watch::Pods, &error());
        health.note(Watch::Events, &error());
        // A list that begins, and its objects, do not make it whole yet.
        let (begins, object): (Item, Item) = (Ok(Event::Init), Ok(Event::InitApply(())));
        health.note(Watch::Pods, &begins);
        health.note(Watch::Pods, &object);
        assert_eq!(down(&health), [Watch::Pods, Watch::Events]);
        health.note(Watch::Pods, &listed);
        assert_eq!(down(&health), [Watch::Events], "the pods' list completed");
    }
}
