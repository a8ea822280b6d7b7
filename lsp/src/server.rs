//! The server loop: requests and notifications from the editor, answered from
//! the document store through an [`Analysis`].
//!
//! Invariants: one thread, so requests see every change sent before them;
//! diagnostics are published on open at once and after changes once the
//! document has been quiet for [`Config::debounce`] (typing a word costs one
//! check, not one per key), but never later than [`Config::max_delay`] after
//! the first unpublished change (someone typing steadily still sees them); a
//! panic inside the analysis becomes an error response to that one request,
//! never the end of the session. After `shutdown`, requests are refused with
//! `InvalidRequest` and only `exit` counts.

use crate::analysis::{Analysis, DocumentKind};
use crate::convert;
use crate::document::Document;
use crossbeam_channel::RecvTimeoutError;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Exit, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, RegisterCapability, Rename, Request as _,
    SemanticTokensFullRequest, Shutdown,
};
use lsp_types::{self as lsp, Url};
use serde_json::Value;
use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The code of the diagnostic of a document too large to analyse.
pub const TOO_LARGE: &str = "too-large";

/// Settings of a session.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a document must stay unchanged before its diagnostics are
    /// published again.
    pub debounce: Duration,
    /// The longest diagnostics wait after a document's first unpublished
    /// change, however often it keeps changing.
    pub max_delay: Duration,
    /// The largest document analysed, in bytes. The server has one thread: a
    /// larger one would block every request behind its analysis, so it gets
    /// one diagnostic saying so and its requests are refused. At 1 MiB (about
    /// 10,000 rules, far past any policy file) one analysis takes about a
    /// tenth of a second (`cargo bench --bench lsp`); at 4 MiB it took two.
    pub max_document_bytes: usize,
    /// The name and version the server gives the editor (`serverInfo`).
    pub name: String,
    pub version: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            debounce: Duration::from_millis(150),
            max_delay: Duration::from_millis(500),
            max_document_bytes: 1 << 20,
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// How a session ended badly: the editor sent `exit`, or closed the
/// connection, without `shutdown` first. The protocol asks for exit code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedWithoutShutdown;

impl fmt::Display for EndedWithoutShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the editor ended the session without `shutdown`")
    }
}

impl Error for EndedWithoutShutdown {}

/// Serves the protocol on stdin and stdout until the editor says `exit`.
/// A session that ends without `shutdown` is the error [`EndedWithoutShutdown`].
pub fn run_stdio(
    analysis: &dyn Analysis,
    config: Config,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let (connection, writer) = crate::transport::stdio();
    let result = serve(&connection, analysis, config);
    drop(connection);
    match writer.join() {
        Ok(written) => written?,
        Err(_) => return Err("the writer thread panicked".into()),
    }
    result
}

/// What the server offers, announced in the `initialize` response.
pub fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Kind(
            lsp::TextDocumentSyncKind::INCREMENTAL,
        )),
        completion_provider: Some(lsp::CompletionOptions::default()),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                ..Default::default()
            },
        )),
        semantic_tokens_provider: Some(
            lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(
                lsp::SemanticTokensOptions {
                    legend: convert::token_legend(),
                    full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    work_done_progress_options: Default::default(),
                },
            ),
        ),
        ..Default::default()
    }
}

/// Runs the initialize handshake, then the session, on `connection`.
pub fn serve(
    connection: &Connection,
    analysis: &dyn Analysis,
    config: Config,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let (id, params) = connection.initialize_start()?;
    // Formatting is Skippy's only: where the editor lets the server say so, it
    // is registered for Skippy documents alone rather than announced for all
    // (YAML has its own formatters).
    let dynamic_formatting = params
        .pointer("/capabilities/textDocument/formatting/dynamicRegistration")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut capabilities = capabilities();
    if dynamic_formatting {
        capabilities.document_formatting_provider = None;
    }
    let result = lsp::InitializeResult {
        capabilities,
        server_info: Some(lsp::ServerInfo {
            name: config.name.clone(),
            version: Some(config.version.clone()),
        }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    if dynamic_formatting {
        let params = lsp::RegistrationParams {
            registrations: vec![lsp::Registration {
                id: "skippy-formatting".into(),
                method: Formatting::METHOD.into(),
                register_options: Some(serde_json::to_value(
                    lsp::TextDocumentRegistrationOptions {
                        document_selector: Some(skippy_documents()),
                    },
                )?),
            }],
        };
        connection.sender.send(
            Request::new(
                RequestId::from("register-formatting".to_string()),
                RegisterCapability::METHOD.into(),
                params,
            )
            .into(),
        )?;
    }
    let mut server = Server {
        connection,
        analysis,
        config,
        documents: HashMap::new(),
        pending: HashMap::new(),
        shut_down: false,
    };
    server.run()
}

/// The documents the server formats: Skippy files.
pub fn skippy_documents() -> lsp::DocumentSelector {
    vec![
        lsp::DocumentFilter {
            language: Some("skippy".into()),
            scheme: None,
            pattern: None,
        },
        lsp::DocumentFilter {
            language: None,
            scheme: None,
            pattern: Some("**/*.skippy".into()),
        },
    ]
}

/// A document's unpublished changes: the first and the last.
#[derive(Debug, Clone, Copy)]
struct Pending {
    first: Instant,
    last: Instant,
}

struct Server<'a> {
    connection: &'a Connection,
    analysis: &'a dyn Analysis,
    config: Config,
    documents: HashMap<Url, Document>,
    /// Documents changed since their diagnostics were published.
    pending: HashMap<Url, Pending>,
    /// `shutdown` has been answered: only `exit` is left.
    shut_down: bool,
}

impl Server<'_> {
    fn run(&mut self) -> Result<(), Box<dyn Error + Send + Sync>> {
        loop {
            // After every message, not only on a quiet channel: a steady
            // stream of requests must not hold diagnostics back.
            self.publish_due(Instant::now());
            let next = self.pending.values().map(|p| self.deadline(p)).min();
            let received = match next {
                Some(deadline) => match self.connection.receiver.recv_deadline(deadline) {
                    Ok(message) => Some(message),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => None,
                },
                None => self.connection.receiver.recv().ok(),
            };
            let Some(message) = received else {
                // The editor closed the connection.
                return self.end();
            };
            match message {
                Message::Request(request) if self.shut_down => {
                    let response = Response::new_err(
                        request.id,
                        ErrorCode::InvalidRequest as i32,
                        "the server is shutting down".into(),
                    );
                    self.connection.sender.send(response.into())?;
                }
                Message::Request(request) if request.method == Shutdown::METHOD => {
                    self.shut_down = true;
                    self.pending.clear();
                    let response = Response::new_ok(request.id, ());
                    self.connection.sender.send(response.into())?;
                }
                Message::Request(request) => {
                    let response = self.respond(request);
                    self.connection.sender.send(response.into())?;
                }
                Message::Notification(notification) if notification.method == Exit::METHOD => {
                    return self.end();
                }
                Message::Notification(_) if self.shut_down => {}
                Message::Notification(notification) => self.notify(notification),
                Message::Response(_) => {}
            }
        }
    }

    /// The end of the session: clean after `shutdown`, else a failure.
    fn end(&self) -> Result<(), Box<dyn Error + Send + Sync>> {
        if self.shut_down {
            Ok(())
        } else {
            Err(Box::new(EndedWithoutShutdown))
        }
    }

    /// When a document's diagnostics are due: once it has been quiet for the
    /// debounce, or `max_delay` after its first unpublished change.
    fn deadline(&self, pending: &Pending) -> Instant {
        (pending.last + self.config.debounce).min(pending.first + self.config.max_delay)
    }

    fn publish_due(&mut self, now: Instant) {
        let due: Vec<Url> = self
            .pending
            .iter()
            .filter(|(_, pending)| self.deadline(pending) <= now)
            .map(|(uri, _)| uri.clone())
            .collect();
        for uri in due {
            self.pending.remove(&uri);
            self.publish(&uri);
        }
    }

    fn publish(&self, uri: &Url) {
        let Some(doc) = self.documents.get(uri) else {
            return;
        };
        let diagnostics = if doc.text().len() > self.config.max_document_bytes {
            vec![convert::too_large(doc, self.config.max_document_bytes)]
        } else {
            let analysis = self.analysis;
            let diagnostics = catch_unwind(AssertUnwindSafe(|| analysis.diagnostics(doc.source())))
                .unwrap_or_else(|_| {
                    tracing::error!("the analysis panicked computing diagnostics of {uri}");
                    Vec::new()
                });
            convert::diagnostics(doc, uri, &diagnostics)
        };
        let params = lsp::PublishDiagnosticsParams {
            uri: uri.clone(),
            diagnostics,
            version: Some(doc.version),
        };
        self.send_notification::<PublishDiagnostics>(params);
    }

    fn send_notification<N: lsp_types::notification::Notification>(&self, params: N::Params) {
        let notification = Notification::new(N::METHOD.to_string(), params);
        // A closed channel means the editor is gone; the loop ends on its own.
        let _ = self.connection.sender.send(notification.into());
    }

    fn notify(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(params) =
                    serde_json::from_value::<lsp::DidOpenTextDocumentParams>(notification.params)
                else {
                    return;
                };
                let item = params.text_document;
                let kind = document_kind(&item.language_id, &item.uri);
                self.documents.insert(
                    item.uri.clone(),
                    Document::new(item.text, item.version, kind),
                );
                self.pending.remove(&item.uri);
                self.publish(&item.uri);
            }
            DidChangeTextDocument::METHOD => {
                let Ok(params) =
                    serde_json::from_value::<lsp::DidChangeTextDocumentParams>(notification.params)
                else {
                    return;
                };
                let uri = params.text_document.uri;
                if let Some(doc) = self.documents.get_mut(&uri) {
                    for change in params.content_changes {
                        doc.apply_change(change);
                    }
                    doc.version = params.text_document.version;
                    let now = Instant::now();
                    self.pending
                        .entry(uri)
                        .and_modify(|p| p.last = now)
                        .or_insert(Pending {
                            first: now,
                            last: now,
                        });
                }
            }
            DidCloseTextDocument::METHOD => {
                let Ok(params) =
                    serde_json::from_value::<lsp::DidCloseTextDocumentParams>(notification.params)
                else {
                    return;
                };
                let uri = params.text_document.uri;
                self.documents.remove(&uri);
                self.pending.remove(&uri);
                // Clear what the editor shows for a file no longer open.
                self.send_notification::<PublishDiagnostics>(lsp::PublishDiagnosticsParams {
                    uri,
                    diagnostics: Vec::new(),
                    version: None,
                });
            }
            _ => {}
        }
    }

    fn respond(&self, request: Request) -> Response {
        let id = request.id.clone();
        let outcome = catch_unwind(AssertUnwindSafe(|| self.handle(request)));
        match outcome {
            Ok(Ok(result)) => Response::new_ok(id, result),
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(_) => internal_error(id),
        }
    }

    fn handle(&self, request: Request) -> Result<Value, (ErrorCode, String)> {
        let analysis = self.analysis;
        let params = request.params;
        match request.method.as_str() {
            Completion::METHOD => {
                let p: lsp::CompletionParams = parse(params)?;
                let (doc, offset) = self.at(&p.text_document_position)?;
                let cursor = doc.range(&(offset..offset)).end;
                // The protocol wants a one-line range that holds the cursor.
                let replace = analysis
                    .completion_range(doc.source(), offset)
                    .filter(|r| r.start <= offset && offset <= r.end)
                    .map(|r| doc.range(&(r.start..offset)))
                    .filter(|r| r.start.line == cursor.line && r.end == cursor);
                // The analysis' order is meaningful (actions least disruptive
                // first, say); without a sort text editors sort by label.
                let items: Vec<_> = analysis
                    .completions(doc.source(), offset)
                    .iter()
                    .enumerate()
                    .map(|(i, c)| lsp::CompletionItem {
                        sort_text: Some(format!("{i:05}")),
                        ..convert::completion(c, replace)
                    })
                    .collect();
                to_json(lsp::CompletionResponse::Array(items))
            }
            HoverRequest::METHOD => {
                let p: lsp::HoverParams = parse(params)?;
                let (doc, offset) = self.at(&p.text_document_position_params)?;
                to_json(analysis.hover(doc.source(), offset).map(|h| lsp::Hover {
                    contents: lsp::HoverContents::Markup(convert::markdown(&h.markdown)),
                    range: Some(doc.range(&h.range)),
                }))
            }
            GotoDefinition::METHOD => {
                let p: lsp::GotoDefinitionParams = parse(params)?;
                let (doc, offset) = self.at(&p.text_document_position_params)?;
                let uri = &p.text_document_position_params.text_document.uri;
                to_json(analysis.definition(doc.source(), offset).map(|range| {
                    lsp::GotoDefinitionResponse::Scalar(lsp::Location::new(
                        uri.clone(),
                        doc.range(&range),
                    ))
                }))
            }
            References::METHOD => {
                let p: lsp::ReferenceParams = parse(params)?;
                let (doc, offset) = self.at(&p.text_document_position)?;
                let uri = &p.text_document_position.text_document.uri;
                let locations: Vec<_> = analysis
                    .references(doc.source(), offset, p.context.include_declaration)
                    .iter()
                    .map(|range| lsp::Location::new(uri.clone(), doc.range(range)))
                    .collect();
                to_json(locations)
            }
            PrepareRenameRequest::METHOD => {
                let p: lsp::TextDocumentPositionParams = parse(params)?;
                let (doc, offset) = self.at(&p)?;
                match analysis.prepare_rename(doc.source(), offset) {
                    Ok(range) => to_json(lsp::PrepareRenameResponse::Range(doc.range(&range))),
                    Err(why) => Err((ErrorCode::RequestFailed, why)),
                }
            }
            Rename::METHOD => {
                let p: lsp::RenameParams = parse(params)?;
                let (doc, offset) = self.at(&p.text_document_position)?;
                let uri = p.text_document_position.text_document.uri.clone();
                match analysis.rename(doc.source(), offset, &p.new_name) {
                    Ok(edits) => {
                        let changes = HashMap::from([(uri, convert::text_edits(doc, &edits))]);
                        to_json(lsp::WorkspaceEdit::new(changes))
                    }
                    Err(why) => Err((ErrorCode::RequestFailed, why)),
                }
            }
            Formatting::METHOD => {
                let p: lsp::DocumentFormattingParams = parse(params)?;
                let doc = self.document(&p.text_document.uri)?;
                let edits = analysis.format(doc.source()).and_then(|formatted| {
                    (formatted != doc.text()).then(|| {
                        vec![lsp::TextEdit::new(
                            doc.range(&(0..doc.text().len())),
                            formatted,
                        )]
                    })
                });
                to_json(edits.unwrap_or_default())
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp::DocumentSymbolParams = parse(params)?;
                let doc = self.document(&p.text_document.uri)?;
                let symbols: Vec<_> = analysis
                    .symbols(doc.source())
                    .iter()
                    .map(|s| convert::symbol(doc, s))
                    .collect();
                to_json(lsp::DocumentSymbolResponse::Nested(symbols))
            }
            SemanticTokensFullRequest::METHOD => {
                let p: lsp::SemanticTokensParams = parse(params)?;
                let doc = self.document(&p.text_document.uri)?;
                let tokens = analysis.semantic_tokens(doc.source());
                to_json(lsp::SemanticTokensResult::Tokens(lsp::SemanticTokens {
                    result_id: None,
                    data: convert::semantic_tokens(doc, &tokens),
                }))
            }
            CodeActionRequest::METHOD => {
                let p: lsp::CodeActionParams = parse(params)?;
                let uri = p.text_document.uri;
                let doc = self.document(&uri)?;
                let range = doc.byte_range(p.range);
                let actions: Vec<_> = analysis
                    .code_actions(doc.source(), range)
                    .iter()
                    .map(|action| {
                        let edits = convert::text_edits(doc, &action.edits);
                        lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                            title: action.title.clone(),
                            kind: Some(lsp::CodeActionKind::QUICKFIX),
                            diagnostics: action
                                .fixes
                                .as_ref()
                                .map(|d| vec![convert::diagnostic(doc, &uri, d)]),
                            edit: Some(lsp::WorkspaceEdit::new(HashMap::from([(
                                uri.clone(),
                                edits,
                            )]))),
                            is_preferred: action.preferred.then_some(true),
                            ..Default::default()
                        })
                    })
                    .collect();
                to_json(actions)
            }
            method => Err((
                ErrorCode::MethodNotFound,
                format!("unsupported request: {method}"),
            )),
        }
    }

    fn document(&self, uri: &Url) -> Result<&Document, (ErrorCode, String)> {
        let doc = self.documents.get(uri).ok_or_else(|| {
            (
                ErrorCode::InvalidParams,
                format!("document not open: {uri}"),
            )
        })?;
        if doc.text().len() > self.config.max_document_bytes {
            return Err((
                ErrorCode::RequestFailed,
                format!(
                    "{uri} is too large for the language server ({} bytes, at most {})",
                    doc.text().len(),
                    self.config.max_document_bytes
                ),
            ));
        }
        Ok(doc)
    }

    fn at(
        &self,
        position: &lsp::TextDocumentPositionParams,
    ) -> Result<(&Document, usize), (ErrorCode, String)> {
        let doc = self.document(&position.text_document.uri)?;
        Ok((doc, doc.offset(position.position)))
    }
}

fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, (ErrorCode, String)> {
    serde_json::from_value(params).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn to_json<T: serde::Serialize>(value: T) -> Result<Value, (ErrorCode, String)> {
    serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

fn internal_error(id: RequestId) -> Response {
    Response::new_err(
        id,
        ErrorCode::InternalError as i32,
        "the language server failed on this request; the log has the details".into(),
    )
}

/// Which language a document is in: by the editor's language id, else by the
/// file's extension, else Skippy.
fn document_kind(language_id: &str, uri: &Url) -> DocumentKind {
    match language_id {
        "skippy" => DocumentKind::Skippy,
        "yaml" => DocumentKind::Yaml,
        _ if uri.path().ends_with(".yaml") || uri.path().ends_with(".yml") => DocumentKind::Yaml,
        _ => DocumentKind::Skippy,
    }
}
