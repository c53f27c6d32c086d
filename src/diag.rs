//! User-facing diagnostics: one error type for every stage, rendered by miette.

pub mod suggest;

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceCode};

/// Index of a source file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file the range lies in.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span covering `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start, end }
    }

    /// The smallest span covering both (which must lie in the same file).
    pub fn to(self, other: Span) -> Span {
        Span::new(self.file, self.start.min(other.start), self.end.max(other.end))
    }
}

/// All source texts of one compilation: the user's file and the stdlib modules it reaches.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<Arc<NamedSource<String>>>,
}

impl SourceMap {
    /// Registers a source text and returns its id.
    pub fn add(&mut self, name: &str, text: String) -> FileId {
        self.files.push(Arc::new(NamedSource::new(name, text)));
        FileId(self.files.len() as u32 - 1)
    }

    /// The text of a file.
    pub fn text(&self, file: FileId) -> &str {
        self.files[file.0 as usize].inner()
    }

    /// The name of a file, as given to [`SourceMap::add`].
    pub fn name(&self, file: FileId) -> &str {
        self.files[file.0 as usize].name()
    }

    fn source(&self, file: FileId) -> Arc<NamedSource<String>> {
        self.files[file.0 as usize].clone()
    }
}

/// One user-facing error: a stable code, a message, a labelled span and a help line.
#[derive(Debug, Clone)]
pub struct Diag {
    /// Stable code such as `gradc::shape::mismatch`.
    pub code: &'static str,
    /// One-line message.
    pub message: String,
    /// Where the problem is, with a short label; `None` for errors without a source location.
    pub label: Option<(Span, String)>,
    /// Further labelled spans in the same file (e.g. "declared here").
    pub notes: Vec<(Span, String)>,
    /// What the user can do about it.
    pub help: Option<String>,
    /// Further independent errors found in the same run, reported after this one.
    pub related: Vec<Diag>,
    /// How many more errors were found than `related` lists (its last entry says so).
    pub omitted: usize,
    /// A warning: reported, and the program still compiles and runs.
    pub warning: bool,
    source: Option<Arc<NamedSource<String>>>,
}

/// The most errors one report lists; the rest are counted.
pub const MAX_ERRORS: usize = 20;

impl Diag {
    /// A diagnostic with a code and message and nothing else yet.
    pub fn new(code: &'static str, message: impl Into<String>) -> Diag {
        Diag {
            code,
            message: message.into(),
            label: None,
            notes: vec![],
            help: None,
            related: vec![],
            omitted: 0,
            warning: false,
            source: None,
        }
    }

    /// One report of independent errors, in the order found: the first, with the others (up
    /// to [`MAX_ERRORS`] in all, then a count of the rest) reported after it. `None` if empty.
    pub fn combine(errors: Vec<Diag>) -> Option<Diag> {
        // A report among the errors contributes each of its own.
        let mut flat = Vec::new();
        let mut omitted = 0;
        for mut d in errors {
            let related = std::mem::take(&mut d.related);
            let more = std::mem::take(&mut d.omitted);
            omitted += more;
            flat.push(d);
            flat.extend(related.into_iter().take(related_len(more)));
        }
        let total = flat.len() + omitted;
        let mut it = flat.into_iter();
        let mut first = it.next()?;
        first.related.extend(it.take(MAX_ERRORS - 1));
        if total > MAX_ERRORS {
            let more = total - first.count();
            first.omitted = more;
            first.related.push(more_errors(more));
        }
        Some(first)
    }

    /// The same errors, the first in the file first (errors without a location lead).
    pub fn in_file_order(mut self) -> Diag {
        let omitted = std::mem::take(&mut self.omitted);
        let mut related = std::mem::take(&mut self.related);
        if omitted > 0 {
            // The count of the rest stays last.
            related.pop();
        }
        // A stable sort keeps errors at one position in the order they were found.
        let mut all = vec![self];
        all.extend(related);
        all.sort_by_key(|d| d.label.as_ref().map(|(s, _)| (s.file.0, s.start)));
        let mut it = all.into_iter();
        // `all` holds at least `self`.
        let mut first = it.next().expect("at least one error");
        first.related.extend(it);
        first.omitted = omitted;
        if omitted > 0 {
            first.related.push(more_errors(omitted));
        }
        first
    }

    /// How many errors were found: this one, the related ones and those left out.
    pub fn count(&self) -> usize {
        1 + self.related.len() - usize::from(self.omitted > 0) + self.omitted
    }

    /// Points the diagnostic at `span` with `label`.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diag {
        self.label = Some((span, label.into()));
        self
    }

    /// Adds a secondary labelled span (kept only if it lies in the primary span's file).
    pub fn note(mut self, span: Span, label: impl Into<String>) -> Diag {
        self.notes.push((span, label.into()));
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Diag {
        self.help = Some(help.into());
        self
    }

    /// The same diagnostic as a warning, which does not stop the program.
    pub fn as_warning(mut self) -> Diag {
        self.warning = true;
        self
    }

    /// Attaches the source text the spans point into, ready for rendering.
    pub fn with_sources(mut self, sources: &SourceMap) -> Diag {
        if let Some((span, _)) = &self.label {
            self.source = Some(sources.source(span.file));
        }
        self.related = self.related.into_iter().map(|d| d.with_sources(sources)).collect();
        self
    }

    /// Renders without colour at a fixed width: the form snapshots and `--color never` use.
    pub fn render_plain(&self) -> String {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor()).with_width(100);
        let mut out = String::new();
        // Writing into a String cannot fail.
        handler.render_report(&mut out, self).expect("fmt::Write to String");
        out
    }
}

/// The last entry of a capped report: how many errors it leaves out.
fn more_errors(more: usize) -> Diag {
    Diag::new("gradc::errors::more", format!("and {more} more error{}", if more == 1 { "" } else { "s" }))
        .help("fix these first; the others may go with them")
}

/// How many of a report's related entries are errors: all but the count of the rest, if any.
fn related_len(omitted: usize) -> usize {
    if omitted > 0 {
        MAX_ERRORS - 1
    } else {
        usize::MAX
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(if self.warning { Severity::Warning } else { Severity::Error })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s.as_ref() as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let (main, text) = self.label.as_ref()?;
        let primary = LabeledSpan::new_primary_with_span(Some(text.clone()), (main.start, main.end - main.start));
        let notes = self
            .notes
            .iter()
            .filter(|(s, _)| s.file == main.file)
            .map(|(s, t)| LabeledSpan::new_with_span(Some(t.clone()), (s.start, s.end - s.start)));
        Some(Box::new(std::iter::once(primary).chain(notes)))
    }
}

/// Shorthand for results on user paths.
pub type Result<T, E = Diag> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_keeps_the_order_and_caps_the_report() {
        assert!(Diag::combine(vec![]).is_none());
        let errors: Vec<Diag> = (0..25).map(|i| Diag::new("gradc::test", format!("error {i}"))).collect();
        let d = Diag::combine(errors).expect("some errors");
        assert_eq!(d.message, "error 0");
        assert_eq!(d.related.len(), MAX_ERRORS, "19 more errors and the count of the rest");
        assert_eq!(d.count(), 25);
        assert_eq!(d.related[MAX_ERRORS - 2].message, "error 19");
        assert_eq!(d.related[MAX_ERRORS - 1].message, "and 5 more errors");
        let one = Diag::combine(vec![Diag::new("gradc::test", "alone")]).expect("one error");
        assert_eq!(one.count(), 1);
    }

    #[test]
    fn nested_reports_flatten_and_sort_by_position() {
        let at =
            |start: usize, msg: &str| Diag::new("gradc::test", msg).at(Span::new(FileId(0), start, start + 1), "here");
        let train = Diag::combine(vec![at(50, "key a"), at(60, "key b")]).expect("two");
        let d = Diag::combine(vec![at(30, "item"), train, at(10, "use")]).expect("four").in_file_order();
        let order: Vec<&str> =
            std::iter::once(d.message.as_str()).chain(d.related.iter().map(|r| r.message.as_str())).collect();
        assert_eq!(order, ["use", "item", "key a", "key b"]);
        assert_eq!(d.count(), 4);
        let many: Vec<Diag> = (0..30).map(|i| at(100 - i, "e")).collect();
        let capped = Diag::combine(vec![Diag::combine(many).expect("30"), at(0, "first")]).expect("31").in_file_order();
        assert_eq!(capped.count(), 31);
        assert_eq!(capped.related.len(), MAX_ERRORS);
        assert_eq!(capped.related.last().map(|d| d.message.as_str()), Some("and 11 more errors"));
    }
}
