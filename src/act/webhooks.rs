//! `notify`'s webhooks: beside the record and its Events, each notification
//! is POSTed as JSON to every configured URL — Slack's and Mattermost's
//! incoming webhooks read its `text`, anything else its other fields.
//!
//! A webhook that fails (refused, timed out, not 2xx) is logged and counted;
//! it never holds back the loop for longer than its timeout, and the record
//! says how many were delivered.

use crate::engine::observation::TargetId;
use serde::Serialize;
use std::time::Duration;

/// Where notifications go.
#[derive(Clone, Default)]
pub struct Webhooks {
    urls: Vec<String>,
    client: Option<reqwest::Client>,
}

/// What each webhook receives.
#[derive(Debug, Serialize, PartialEq)]
pub struct Notification<'a> {
    /// One line for a chat: `[kubeskippy] pods/shop/web-1: checkout is crash-looping`.
    pub text: String,
    pub message: &'a str,
    /// The object the notice is about (`kind/namespace/name`).
    pub object: String,
    /// What the policy selected, when another object (a pod whose node the
    /// notice is about).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// When, RFC 3339.
    pub at: String,
}

impl<'a> Notification<'a> {
    pub fn new(message: &'a str, object: &TargetId, target: &TargetId, at: i64) -> Self {
        let at = k8s_openapi::jiff::Timestamp::from_second(at)
            .map(|t| t.to_string())
            .unwrap_or_default();
        Notification {
            text: format!("[kubeskippy] {object}: {message}"),
            message,
            object: object.to_string(),
            target: (target != object).then(|| target.to_string()),
            at,
        }
    }
}

impl Webhooks {
    /// Webhooks at `urls`, each call bounded by `timeout`; a URL that is not
    /// http(s) is refused here, at start, rather than at the first notice.
    pub fn new(urls: Vec<String>, timeout: Duration) -> Result<Webhooks, String> {
        for url in &urls {
            let parsed =
                reqwest::Url::parse(url).map_err(|e| format!("--notify-webhook {url:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("--notify-webhook {url:?}: not an http(s) URL"));
            }
        }
        let client = if urls.is_empty() {
            None
        } else {
            Some(
                reqwest::Client::builder()
                    .timeout(timeout)
                    .build()
                    .map_err(|e| format!("cannot make an HTTP client for webhooks: {e}"))?,
            )
        };
        Ok(Webhooks { urls, client })
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Sends `notification` to every webhook at once; how many took it.
    pub async fn send(&self, notification: &Notification<'_>) -> (usize, Vec<String>) {
        let Some(client) = &self.client else {
            return (0, Vec::new());
        };
        let sends = self.urls.iter().map(|url| {
            let request = client.post(url).json(notification);
            async move {
                match request.send().await {
                    Ok(response) if response.status().is_success() => Ok(()),
                    Ok(response) => Err(format!("{}: HTTP {}", host(url), response.status())),
                    // The error's URL would carry the path: never logged.
                    Err(error) => Err(format!("{}: {}", host(url), error.without_url())),
                }
            }
        });
        let results = futures::future::join_all(sends).await;
        let mut delivered = 0;
        let mut failed = Vec::new();
        for result in results {
            match result {
                Ok(()) => delivered += 1,
                Err(why) => {
                    tracing::warn!(webhook = %why, "a notify webhook failed");
                    failed.push(why);
                }
            }
        }
        (delivered, failed)
    }
}

/// A webhook's host, never its path: Slack's carries its secret there.
fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "a webhook".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;

    fn id(kind: Kind, namespace: Option<&str>, name: &str) -> TargetId {
        TargetId {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn a_notice_reads_in_a_chat_and_in_a_program() {
        let pod = id(Kind::Pods, Some("shop"), "web-1");
        let notice = Notification::new("checkout is crash-looping", &pod, &pod, 1_800_000_000);
        let json = serde_json::to_value(&notice).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!({
                "text": "[kubeskippy] pods/shop/web-1: checkout is crash-looping",
                "message": "checkout is crash-looping",
                "object": "pods/shop/web-1",
                "at": "2027-01-15T08:00:00Z"
            })
        );
        let node = id(Kind::Nodes, None, "node-1");
        let on_node = Notification::new("disk", &node, &pod, 0);
        assert_eq!(on_node.target.as_deref(), Some("pods/shop/web-1"));
    }

    #[test]
    fn only_http_urls_are_webhooks() {
        assert!(Webhooks::new(vec!["ftp://x".into()], Duration::from_secs(1)).is_err());
        assert!(Webhooks::new(vec!["not a url".into()], Duration::from_secs(1)).is_err());
        let hooks = Webhooks::new(
            vec!["https://hooks.slack.com/services/T0/B0/secret".into()],
            Duration::from_secs(1),
        )
        .expect("a webhook");
        assert!(!hooks.is_empty());
        assert_eq!(
            host("https://hooks.slack.com/services/T0/B0/secret"),
            "hooks.slack.com"
        );
    }
}
