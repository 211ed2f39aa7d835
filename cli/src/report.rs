//! How `registry` reports an error on stderr: one line of text, or with `--json` one JSON
//! object, so a script that asked for JSON never has to parse prose.
//!
//! The JSON form is stable:
//!
//! ```json
//! {"error":{"message":"cannot read key file a.key","causes":["No such file or directory (os error 2)"],"hint":null,"exit":2}}
//! ```
//!
//! - `message`: what failed, the outermost context (a string);
//! - `causes`: why, outermost first (strings; may be empty);
//! - `hint`: what to try, or `null`;
//! - `exit`: the process's exit code (1 for a definite "no" that is reported as an
//!   error, such as a damaged ledger; 2 for usage and runtime errors).
//!
//! The text form is `error: MESSAGE: CAUSE: ...; HINT`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Whether errors are reported as JSON (`--json`); set once at start-up.
static JSON: AtomicBool = AtomicBool::new(false);

/// Reports errors as JSON from now on.
pub fn use_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// One error, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
    pub exit: u8,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a Report,
}

impl Report {
    /// A report of `err` and its chain of causes. A cause whose text its parent's message
    /// already ends with (an error that prints its source and also returns it) is left
    /// out, so no cause is said twice.
    pub fn of(err: &anyhow::Error, exit: u8) -> Report {
        let mut texts: Vec<String> = Vec::new();
        for cause in err.chain() {
            let text = cause.to_string();
            if texts.last().is_some_and(|prev| prev.ends_with(&text)) {
                continue;
            }
            texts.push(text);
        }
        let mut texts = texts.into_iter();
        Report {
            message: texts.next().unwrap_or_default(),
            causes: texts.collect(),
            hint: None,
            exit,
        }
    }

    /// A report of one message with no causes.
    pub fn message(message: impl Into<String>, exit: u8) -> Report {
        Report {
            message: message.into(),
            causes: Vec::new(),
            hint: None,
            exit,
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Report {
        self.hint = hint;
        self
    }

    /// The text form: `error: MESSAGE: CAUSE: ...; HINT`.
    pub fn text(&self) -> String {
        let mut line = format!("error: {}", self.message);
        for c in &self.causes {
            line.push_str(": ");
            line.push_str(c);
        }
        if let Some(h) = &self.hint {
            line.push_str("; ");
            line.push_str(h);
        }
        line
    }

    /// The JSON form, on one line.
    pub fn json(&self) -> String {
        serde_json::to_string(&Envelope { error: self }).unwrap_or_else(|_| {
            String::from(r#"{"error":{"message":"error","causes":[],"hint":null,"exit":2}}"#)
        })
    }

    /// Writes the report to stderr as JSON, whatever was chosen.
    pub fn print_json(&self) {
        let _ = writeln!(std::io::stderr(), "{}", self.json());
    }

    /// Writes the report to stderr in the form chosen at start-up.
    pub fn print(&self) {
        let line = if JSON.load(Ordering::Relaxed) {
            self.json()
        } else {
            self.text()
        };
        // stderr may be closed; there is nobody left to tell then.
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read x: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_its_parent_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let err = anyhow::Error::new(Repeats(io)).context("loading the key");
        let r = Report::of(&err, 2);
        assert_eq!(r.message, "loading the key");
        assert_eq!(r.causes, vec!["cannot read x: gone".to_string()]);
        assert_eq!(r.text(), "error: loading the key: cannot read x: gone");
    }

    #[test]
    fn the_json_form_has_a_stable_shape() {
        let r = Report::message("m", 2).with_hint(Some("h".into()));
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "m", "causes": [], "hint": "h", "exit": 2}})
        );
    }
}
