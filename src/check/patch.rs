//! `patch` declarations: the JSON is parsed at check time, its shape checked
//! as its type requires (an object for `merge` and `strategic`, a list of
//! operations for `json`), and every field it would set held to the safety
//! configuration, so a patch that would change identity, privileges or RBAC
//! is refused before it reaches a cluster.

use super::{duplicate, Checker, Declared};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, PatchId, PatchType};
use crate::span::Span;
use crate::syntax::ast;
use serde_json::Value;

impl Checker<'_> {
    pub(super) fn patch_decl(&mut self, decl: &ast::PatchDecl) {
        self.check_name(&decl.name, "patch");
        let name = &decl.name.name;
        if let Some(first) = self.patches.get(name) {
            let d = duplicate(&decl.name, "patch", first.span);
            self.report(d);
            return;
        }
        let patch_type = match PatchType::from_keyword(&decl.patch_type.name) {
            Some(patch_type) => Some(patch_type),
            None => {
                let other = decl.patch_type.name.as_str();
                let d = Diagnostic::new(
                    Code::UnknownPatchType,
                    decl.patch_type.span,
                    format!("unknown patch type `{other}`"),
                )
                .label("expected `merge`, `strategic` or `json`");
                let d = match closest(other, PatchType::ALL.map(PatchType::keyword)) {
                    Some(s) => d.suggest(s),
                    None => d.help("a patch is a JSON merge patch (`merge`), a strategic merge patch (`strategic`) or a JSON patch (`json`, a list of operations)"),
                };
                self.report(d);
                None
            }
        };
        let body = self.patch_body(&decl.body, patch_type);
        let id = match (patch_type, body) {
            (Some(patch_type), Some(body)) => {
                self.program.patches.push(ir::Patch {
                    name: name.clone(),
                    patch_type,
                    body,
                });
                Some(PatchId(self.program.patches.len() - 1))
            }
            _ => None,
        };
        self.patches.insert(
            name.clone(),
            Declared {
                span: decl.name.span,
                id,
                used: false,
            },
        );
    }

    /// The patch document, if it parses, has the shape `patch_type` needs
    /// (any shape when the type is unknown) and sets nothing forbidden.
    fn patch_body(
        &mut self,
        body: &ast::StringLit,
        patch_type: Option<PatchType>,
    ) -> Option<Value> {
        let value: Value = match serde_json::from_str(&body.value) {
            Ok(value) => value,
            Err(error) => {
                let index = json_index(&body.value, error.line(), error.column());
                let at = body.source_offset(self.source, index);
                let end = body.source_offset(self.source, index + 1).max(at + 1);
                self.report(
                    Diagnostic::new(
                        Code::InvalidPatchJson,
                        Span::new(at, end.min(body.span.end)),
                        // serde_json ends its message with a position inside the
                        // JSON; the span already points at it in the file.
                        format!("invalid JSON in patch: {}", json_message(&error)),
                    )
                    .label("the JSON breaks here")
                    .help("a patch is JSON in a Skippy string: write `\\\"` for each quote"),
                );
                return None;
            }
        };
        let rules = PatchRules {
            fields: &self.config.forbidden_patch_fields,
            protected_labels: self
                .config
                .protected_labels
                .keys()
                .map(String::as_str)
                .collect(),
        };
        let mut forbidden = Vec::new();
        match patch_type {
            Some(PatchType::Json) => match operations(&value) {
                Ok(ops) => {
                    for op in ops {
                        rules.operation(&op, &mut forbidden);
                    }
                }
                Err(shape) => {
                    let span = shape
                        .at
                        .as_deref()
                        .and_then(|text| value_position(&body.value, text))
                        .map_or(body.span, |(start, end)| self.inside(body, start, end));
                    self.report(
                        Diagnostic::new(Code::InvalidPatchJson, span, shape.message)
                            .help("a JSON patch is a list of operations: `[{\\\"op\\\":\\\"replace\\\",\\\"path\\\":\\\"/spec/template/metadata/annotations/tier\\\",\\\"value\\\":\\\"gold\\\"}]`"),
                    );
                    return None;
                }
            },
            Some(PatchType::Merge | PatchType::Strategic) if !value.is_object() => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidPatchJson,
                        body.span,
                        "a merge or strategic patch must be a JSON object",
                    )
                    .help("for example `\"{\\\"spec\\\":{\\\"replicas\\\":3}}\"`; a list of operations is a `json` patch"),
                );
                return None;
            }
            _ => rules.scan(&value, &mut forbidden),
        }
        if forbidden.is_empty() {
            return Some(value);
        }
        for found in forbidden {
            let position = match &found.at {
                At::Key(key) => key_position(&body.value, key),
                At::Value(text) => value_position(&body.value, text),
            };
            let span = position.map_or(body.span, |(start, end)| self.inside(body, start, end));
            self.report(
                Diagnostic::new(Code::ForbiddenPatchField, span, found.message)
                    .label("forbidden by the safety configuration")
                    .help(found.why),
            );
        }
        None
    }

    /// The span in the file of bytes `start..end` of `body`'s text.
    fn inside(&self, body: &ast::StringLit, start: usize, end: usize) -> Span {
        Span::new(
            body.source_offset(self.source, start),
            body.source_offset(self.source, end),
        )
    }
}

/// The operations of RFC 6902.
const OPS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

/// One operation of a JSON patch (RFC 6902).
struct Operation<'a> {
    op: &'a str,
    path: &'a str,
    from: Option<&'a str>,
    value: Option<&'a Value>,
}

/// Why a JSON patch is not one, and the text (an operation's name or path)
/// to point at.
struct Shape {
    message: String,
    at: Option<String>,
}

/// The operations of a JSON patch, checked as the API server would check
/// them before applying any.
fn operations(value: &Value) -> Result<Vec<Operation<'_>>, Shape> {
    let shape = |message: String, at: Option<&str>| Shape {
        message,
        at: at.map(str::to_string),
    };
    let Value::Array(items) = value else {
        return Err(shape(
            "a JSON patch must be a list of operations".into(),
            None,
        ));
    };
    if items.is_empty() {
        return Err(shape(
            "a JSON patch with no operations changes nothing".into(),
            None,
        ));
    }
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let n = i + 1;
        let Value::Object(fields) = item else {
            return Err(shape(format!("operation {n} is not a JSON object"), None));
        };
        let text = |key: &str| fields.get(key).and_then(Value::as_str);
        let Some(op) = text("op") else {
            return Err(shape(format!("operation {n} has no `op`"), None));
        };
        if !OPS.contains(&op) {
            let mut message = format!("operation {n}: unknown op `{op}`");
            if let Some(known) = closest(op, OPS) {
                message.push_str(&format!(" (did you mean `{known}`?)"));
            }
            return Err(shape(message, Some(op)));
        }
        let Some(path) = text("path") else {
            return Err(shape(
                format!("operation {n} (`{op}`) has no `path`"),
                Some(op),
            ));
        };
        let from = text("from");
        for pointer in std::iter::once(path).chain(from) {
            if let Some(why) = bad_pointer(pointer) {
                return Err(shape(
                    format!("operation {n}: `{pointer}` is not a JSON pointer: {why}"),
                    Some(pointer),
                ));
            }
        }
        if matches!(op, "move" | "copy") && from.is_none() {
            return Err(shape(
                format!("operation {n} (`{op}`) has no `from`"),
                Some(op),
            ));
        }
        let value = fields.get("value");
        if matches!(op, "add" | "replace" | "test") && value.is_none() {
            return Err(shape(
                format!("operation {n} (`{op}`) has no `value`"),
                Some(op),
            ));
        }
        ops.push(Operation {
            op,
            path,
            from,
            value,
        });
    }
    Ok(ops)
}

/// Why `pointer` is not an RFC 6901 JSON pointer, if it is not.
fn bad_pointer(pointer: &str) -> Option<&'static str> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Some("it must start with `/`");
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Some("`~` is written `~0` and `/` inside a name `~1`");
        }
    }
    None
}

/// The names a JSON pointer passes through, unescaped.
fn segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
}

/// A field a patch may not set, where it is, and why.
struct Forbidden {
    message: String,
    at: At,
    why: &'static str,
}

/// Where a forbidden field is written in the patch's JSON.
enum At {
    /// As an object's key.
    Key(String),
    /// As a string value: a JSON patch's path or operation.
    Value(String),
}

/// What a patch may not touch, and why.
struct PatchRules<'a> {
    fields: &'a [String],
    protected_labels: Vec<&'a str>,
}

impl PatchRules<'_> {
    /// The forbidden keys of `value`, at any depth, in document order, each
    /// with the reason a user reads.
    fn scan(&self, value: &Value, out: &mut Vec<Forbidden>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if let Some(why) = self.why_forbidden(key) {
                        let seen = out.iter().any(|f| matches!(&f.at, At::Key(k) if k == key));
                        if !seen {
                            out.push(Forbidden {
                                message: format!("patches may not set `{key}`"),
                                at: At::Key(key.clone()),
                                why,
                            });
                        }
                    }
                    self.scan(inner, out);
                }
            }
            Value::Array(items) => {
                for inner in items {
                    self.scan(inner, out);
                }
            }
            _ => {}
        }
    }

    /// A JSON patch operation: it may only set values, never at or through
    /// a forbidden field, and never set one inside its value.
    fn operation(&self, op: &Operation<'_>, out: &mut Vec<Forbidden>) {
        if matches!(op.op, "remove" | "move") {
            out.push(Forbidden {
                message: format!("patches may not `{}` fields", op.op),
                at: At::Value(op.op.to_string()),
                why: "a patch may only set values: `remove` and `move` take fields away (a container, a probe, a limit); write the value with `add` or `replace`",
            });
        }
        // What a `copy` carries is in the object, not in the patch, so the
        // checker cannot see whether it holds a forbidden field.
        if op.op == "copy" {
            out.push(Forbidden {
                message: "patches may not `copy` fields".into(),
                at: At::Value(op.op.to_string()),
                why: "what a `copy` carries is not in the patch, so no check can see it (a securityContext copied into another container); write the value with `add` or `replace`",
            });
        }
        if op.value.is_some_and(Value::is_null) && op.op != "test" {
            out.push(Forbidden {
                message: format!("patches may not `{}` a null", op.op),
                at: At::Value(op.path.to_string()),
                why: "a null takes the field's value away, as `remove` would; patches may only set values",
            });
        }
        for pointer in std::iter::once(op.path).chain(op.from) {
            let forbidden = segments(pointer).find_map(|s| Some((self.why_forbidden(&s)?, s)));
            if let Some((why, field)) = forbidden {
                out.push(Forbidden {
                    message: format!("patches may not set `{field}`"),
                    at: At::Value(pointer.to_string()),
                    why,
                });
            }
        }
        if let Some(value) = op.value {
            self.scan(value, out);
        }
    }

    fn why_forbidden(&self, key: &str) -> Option<&'static str> {
        if key.starts_with('$') {
            return Some("strategic-merge directives (`$patch: replace`, `$patch: delete`, …) can remove whole lists; patches may only set values");
        }
        if self.protected_labels.contains(&key) {
            return Some(
                "a patch may not add or remove the label that protects objects from KubeSkippy",
            );
        }
        if !self.fields.iter().any(|f| f == key) {
            return None;
        }
        Some(if key == "replicas" {
            "scaling belongs to `scale up|down|to`, which the safety rules bound; a patch would bypass them"
        } else {
            "patches may not change identity, privileges, ownership or RBAC (`forbiddenPatchFields` in the safety configuration)"
        })
    }
}

/// The position of `"key"` used as an object key (followed by `:`) in `json`.
fn key_position(json: &str, key: &str) -> Option<(usize, usize)> {
    quoted_position(json, &format!("\"{key}\""), |_, after| {
        after.trim_start().starts_with(':')
    })
}

/// The position of the string `text` used as a value (after `:`) in `json`.
fn value_position(json: &str, text: &str) -> Option<(usize, usize)> {
    let encoded = serde_json::to_string(text).ok()?;
    quoted_position(json, &encoded, |before, _| before.trim_end().ends_with(':'))
}

/// The first `quoted` in `json` that `fits` the text before and after it.
fn quoted_position(
    json: &str,
    quoted: &str,
    fits: impl Fn(&str, &str) -> bool,
) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = json[from..].find(quoted) {
        let start = from + found;
        let end = start + quoted.len();
        if fits(&json[..start], &json[end..]) {
            return Some((start, end));
        }
        from = end;
    }
    None
}

fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The byte index of serde_json's 1-based line and column in `text`.
fn json_index(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_keys_are_found_as_keys_not_values() {
        let json = r#"{"a":"privileged","privileged" : true}"#;
        assert_eq!(key_position(json, "privileged"), Some((18, 30)));
    }

    #[test]
    fn paths_are_found_as_values_not_keys() {
        let json = r#"[{"/a":1,"op":"add","path":"/a","value":1}]"#;
        assert_eq!(value_position(json, "/a"), Some((27, 31)));
    }

    #[test]
    fn json_pointers_are_checked_and_unescaped() {
        assert_eq!(bad_pointer(""), None);
        assert_eq!(bad_pointer("/metadata/labels/a~1b"), None);
        assert!(bad_pointer("spec/replicas").is_some());
        assert!(bad_pointer("/a~2").is_some());
        assert!(bad_pointer("/a~").is_some());
        let names: Vec<String> = segments("/metadata/labels/kubeskippy.io~1x~0y").collect();
        assert_eq!(names, ["metadata", "labels", "kubeskippy.io/x~y"]);
    }

    /// Each way a JSON patch could take a field away, or carry one no check
    /// sees, is refused, and the ways that only set values are not.
    #[test]
    fn only_operations_that_set_values_pass() {
        let rules = PatchRules {
            fields: &[],
            protected_labels: Vec::new(),
        };
        let refused = |json: &str| {
            let value: Value = serde_json::from_str(json).unwrap();
            let mut out = Vec::new();
            for op in operations(&value).unwrap_or_else(|s| panic!("{}", s.message)) {
                rules.operation(&op, &mut out);
            }
            out.into_iter().map(|f| f.message).collect::<Vec<_>>()
        };
        assert_eq!(
            refused(r#"[{"op":"copy","from":"/a","path":"/b"}]"#),
            ["patches may not `copy` fields"]
        );
        assert_eq!(
            refused(r#"[{"op":"replace","path":"/a","value":null}]"#),
            ["patches may not `replace` a null"]
        );
        assert_eq!(
            refused(r#"[{"op":"move","from":"/a","path":"/b"}]"#),
            ["patches may not `move` fields"]
        );
        assert!(refused(
            r#"[{"op":"test","path":"/a","value":null},{"op":"add","path":"/a","value":{}}]"#
        )
        .is_empty());
    }

    #[test]
    fn operations_need_what_their_op_reads() {
        let shape = |json: &str| {
            operations(&serde_json::from_str(json).unwrap())
                .err()
                .map(|s| s.message)
        };
        assert_eq!(shape(r#"[{"op":"add","path":"/a","value":1}]"#), None);
        assert_eq!(shape(r#"[{"op":"test","path":"/a","value":null}]"#), None);
        assert!(shape("[]").unwrap().contains("no operations"));
        assert!(shape(r#"{"op":"add"}"#)
            .unwrap()
            .contains("list of operations"));
        assert!(shape(r#"[{"op":"ad","path":"/a","value":1}]"#)
            .unwrap()
            .contains("did you mean `add`"));
        assert!(shape(r#"[{"op":"replace","path":"/a"}]"#)
            .unwrap()
            .contains("no `value`"));
        assert!(shape(r#"[{"op":"copy","path":"/a"}]"#)
            .unwrap()
            .contains("no `from`"));
        assert!(shape(r#"[{"op":"add","value":1}]"#)
            .unwrap()
            .contains("no `path`"));
    }
}
