//! Loading datasets from CSV files, and writing them back.
//!
//! The `csv` crate tokenises; this module checks what it reads leniently and turns every
//! problem into a diagnostic. The accepted format is RFC 4180 with a little leniency: the first
//! non-blank line is a header naming the columns; fields are separated by commas; a field may be
//! quoted with `"` (and then contain commas, newlines and `""` for a quote); spaces around a
//! field (and at the edges of a quoted one) are ignored; blank lines are skipped; `\n` and
//! `\r\n` line ends are both fine. Every data field must be a finite number. Anything else is a
//! [`Diag`] naming the file, line and column.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;

use super::{Dataset, Labels};
use crate::diag::{Diag, Span};

/// Which columns of a CSV file hold the labels; all other columns are features.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSpec {
    /// No labels: every column is a feature.
    None,
    /// Classification: the named column holds class indices `0, 1, …`; `classes` is the largest plus one.
    Class(String),
    /// Regression: the named columns, in this order, are the targets.
    Targets(Vec<String>),
    /// No labels, and the named columns, where the header has them, are left out: a labelled
    /// file's label columns, when only its features are wanted.
    Without(Vec<String>),
}

/// Reads a dataset from the CSV file at `path` (already resolved against the `.grad` file's
/// directory); `span` is the expression that named the file, for diagnostics.
pub fn load_csv(path: &Path, label: LabelSpec, span: Span) -> Result<Dataset, Diag> {
    let file = path.display().to_string();
    let origin = super::errors::Origin { file: file.clone(), code: super::errors::DATA_MISSING, span };
    let bytes = super::array::read(path, &origin)?;
    let ctx = Context { file: &file, span };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            return Err(ctx.error(format!("line {line} is not valid UTF-8 text"), "save the file as UTF-8"));
        }
    };
    // Spreadsheet programs often start UTF-8 files with a byte-order mark.
    parse(text.strip_prefix('\u{feff}').unwrap_or(&text), &label, &ctx)
}

/// Writes `ds` as CSV with a header: features `x1…xd`, then `label`, or `y` (`y1…yk` for k > 1).
///
/// Numbers are printed in their shortest form that reads back as the same f32, so
/// [`load_csv`] restores the dataset exactly.
pub fn write_csv(ds: &Dataset, out: &mut dyn Write) -> io::Result<()> {
    let mut header: Vec<String> = (1..=ds.d).map(|j| format!("x{j}")).collect();
    match &ds.labels {
        Labels::None => {}
        Labels::Classes { .. } => header.push("label".into()),
        Labels::Targets { k: 1, .. } => header.push("y".into()),
        Labels::Targets { k, .. } => header.extend((1..=*k).map(|j| format!("y{j}"))),
    }
    writeln!(out, "{}", header.join(","))?;
    for i in 0..ds.n {
        let mut sep = "";
        for x in ds.row(i) {
            write!(out, "{sep}{x}")?;
            sep = ",";
        }
        match &ds.labels {
            Labels::None => {}
            Labels::Classes { y, .. } => write!(out, "{sep}{}", y[i])?,
            Labels::Targets { y, k } => {
                for t in &y[i * k..(i + 1) * k] {
                    write!(out, "{sep}{t}")?;
                    sep = ",";
                }
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

/// What every CSV diagnostic needs: the file's name and the expression that loaded it.
struct Context<'a> {
    file: &'a str,
    span: Span,
}

impl Context<'_> {
    /// A `gradc::data::csv` diagnostic about this file.
    fn error(&self, message: String, help: &str) -> Diag {
        Diag::new("gradc::data::csv", format!("`{}`: {message}", self.file))
            .at(self.span, "file loaded here")
            .help(help)
    }
}

/// How each column is used.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Feature,
    Class,
    /// A column left out.
    Skip,
    /// Regression target with its position in the target list.
    Target(usize),
}

/// Parses the whole text of a CSV file.
fn parse(text: &str, label: &LabelSpec, ctx: &Context) -> Result<Dataset, Diag> {
    let bad_record = |(line, message): (u64, String)| {
        ctx.error(format!("line {line}: {message}"), "quote fields that contain commas or quotes, e.g. \"a, b\"")
    };
    check_quotes(text).map_err(bad_record)?;
    // Rows of different lengths are read, so that the check below can name the line.
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut records = reader.records().filter(|r| !r.as_ref().is_ok_and(is_blank)).map(|r| {
        r.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            bad_record((line, e.to_string()))
        })
    });
    let Some(header) = records.next().transpose()? else {
        return Err(ctx.error("the file is empty".into(), "the first line must name the columns, e.g. `x1,x2,label`"));
    };
    let header: Vec<String> = header.iter().map(str::to_string).collect();
    let roles = roles(&header, label, ctx)?;
    let d = roles.iter().filter(|&&r| r == Role::Feature).count();
    let k = roles.iter().filter(|r| matches!(r, Role::Target(_))).count();
    let mut features = Vec::new();
    let mut classes = Vec::new();
    let mut targets = Vec::new();
    let mut n = 0;
    let mut lines = Lines { text, offset: 0, line: 1 };
    for record in records {
        let fields = record?;
        // Every record the reader returns has a position.
        let line = lines.at(fields.position().map_or(0, |p| p.byte()));
        if fields.len() != header.len() {
            return Err(ctx.error(
                format!("line {line} has {} fields, but the header has {}", fields.len(), header.len()),
                "every row needs one value per header column; look for a missing or extra comma",
            ));
        }
        // Targets are stored in the order the user listed them, not file order.
        targets.resize((n + 1) * k, 0.0);
        for (col, (field, role)) in fields.iter().zip(&roles).enumerate() {
            let at = || format!("line {line}, column {} (`{}`)", col + 1, header[col]);
            match *role {
                Role::Feature => features.push(number(field, &at, ctx)?),
                Role::Target(t) => targets[n * k + t] = number(field, &at, ctx)?,
                Role::Class => classes.push(class(field, &at, ctx)?),
                Role::Skip => {}
            }
        }
        n += 1;
    }
    if n == 0 {
        return Err(
            ctx.error("the header is not followed by any data rows".into(), "add rows of numbers below the header")
        );
    }
    let labels = match label {
        LabelSpec::None | LabelSpec::Without(_) => Labels::None,
        LabelSpec::Class(_) => {
            let classes_count = classes.iter().max().map_or(0, |&m| m as usize + 1);
            Labels::Classes { y: classes, classes: classes_count }
        }
        LabelSpec::Targets(_) => Labels::Targets { y: targets, k },
    };
    Ok(Dataset { features: features.into(), n, d, shape: vec![d], labels })
}

/// Line numbers of records, counted from the text itself: the reader's own line count leaves
/// out the empty lines it skips, and a record's byte offset is where those lines begin.
struct Lines<'a> {
    text: &'a str,
    offset: usize,
    line: u64,
}

impl Lines<'_> {
    /// The 1-based line of the first character that is not white space at or after byte
    /// `offset`: the line a record starting there is on. Offsets must not decrease from one
    /// call to the next.
    fn at(&mut self, offset: u64) -> u64 {
        let rest = self.text.as_bytes().iter().skip(offset as usize);
        let offset = offset as usize + rest.take_while(|b| b.is_ascii_whitespace()).count();
        self.line += self.text.as_bytes()[self.offset..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        self.offset = offset;
        self.line
    }
}

/// A line of nothing but spaces, which the reader returns as one empty field: skipped, like
/// the empty lines the reader skips itself.
fn is_blank(record: &csv::StringRecord) -> bool {
    record.len() == 1 && record[0].is_empty()
}

/// Finds the two quoting mistakes the csv crate reads leniently (it runs an unclosed quote on
/// to the end of the file, and appends text after a closing quote to the field), so they are
/// errors with their line rather than a silently wrong dataset. A quote opens a field only as
/// its first character, as in the reader.
fn check_quotes(text: &str) -> Result<(), (u64, String)> {
    let bytes = text.as_bytes();
    let (mut line, mut open_line) = (1, 1);
    let (mut field_start, mut quoted, mut closed) = (true, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if quoted {
            match b {
                // `""` inside quotes is one literal quote.
                b'"' if bytes.get(i) == Some(&b'"') => i += 1,
                b'"' => (quoted, closed) = (false, true),
                b'\n' => line += 1,
                _ => {}
            }
            continue;
        }
        if closed && !matches!(b, b' ' | b'\t' | b'\r' | b',' | b'\n') {
            return Err((line, "unexpected text after a closing quote".into()));
        }
        match b {
            b'"' if field_start => (quoted, open_line, field_start) = (true, line, false),
            b',' => (field_start, closed) = (true, false),
            b'\n' => (line, field_start, closed) = (line + 1, true, false),
            _ => field_start = false,
        }
    }
    if quoted {
        return Err((open_line, "a quoted field is never closed".into()));
    }
    Ok(())
}

/// Assigns a role to each header column, checking the label columns exist.
fn roles(header: &[String], label: &LabelSpec, ctx: &Context) -> Result<Vec<Role>, Diag> {
    let mut seen = HashSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(
            ctx.error(format!("two columns are named `{dup}`"), "give every column in the header a distinct name")
        );
    }
    let find = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            let available: Vec<String> = header.iter().map(|h| format!("`{h}`")).collect();
            ctx.error(
                format!("there is no column named `{name}`"),
                &format!("available columns: {}", available.join(", ")),
            )
        })
    };
    let mut roles = vec![Role::Feature; header.len()];
    match label {
        LabelSpec::None => {}
        LabelSpec::Without(names) => {
            for (col, h) in header.iter().enumerate() {
                if names.contains(h) {
                    roles[col] = Role::Skip;
                }
            }
        }
        LabelSpec::Class(name) => roles[find(name)?] = Role::Class,
        LabelSpec::Targets(names) => {
            if names.is_empty() {
                return Err(
                    ctx.error("no target columns were named".into(), "name at least one regression target column")
                );
            }
            for (t, name) in names.iter().enumerate() {
                let col = find(name)?;
                if roles[col] != Role::Feature {
                    return Err(ctx.error(format!("target column `{name}` is named twice"), "name each target once"));
                }
                roles[col] = Role::Target(t);
            }
        }
    }
    if !roles.contains(&Role::Feature) {
        return Err(ctx.error(
            "no feature columns are left once the labels are taken out".into(),
            "a dataset needs at least one input column besides its labels",
        ));
    }
    Ok(roles)
}

/// Parses a feature or target value; `at` describes where it is.
fn number(field: &str, at: &dyn Fn() -> String, ctx: &Context) -> Result<f32, Diag> {
    let help = "every field below the header must be a number; fix or remove this row";
    if field.is_empty() {
        return Err(ctx.error(format!("{} is empty", at()), "fill in the missing value or remove the row"));
    }
    let v: f64 = field.parse().map_err(|_| ctx.error(format!("{}: `{field}` is not a number", at()), help))?;
    if !v.is_finite() {
        return Err(ctx.error(format!("{}: `{field}` is not a finite number", at()), help));
    }
    if v.abs() > f64::from(f32::MAX) {
        return Err(ctx.error(format!("{}: `{field}` is too large for f32", at()), help));
    }
    Ok(v as f32)
}

/// Parses a class label: a non-negative integer (`2` or `2.0`) that fits an i32.
fn class(field: &str, at: &dyn Fn() -> String, ctx: &Context) -> Result<i32, Diag> {
    if field.is_empty() {
        return Err(ctx.error(format!("{} is empty", at()), "fill in the missing label or remove the row"));
    }
    match field.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(i32::MAX) => Ok(v as i32),
        _ => Err(ctx.error(
            format!("{}: class label `{field}` is not a non-negative integer", at()),
            "class labels must be 0, 1, …, K-1; for a numeric target, load the column as a regression target",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::{blobs, Blobs};
    use crate::diag::FileId;
    use std::path::PathBuf;

    fn span() -> Span {
        Span::new(FileId(0), 5, 25)
    }

    /// A file in the temp directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> TempFile {
            let path = std::env::temp_dir().join(format!("gradc-csv-{}-{name}.csv", std::process::id()));
            std::fs::write(&path, contents).expect("write temp file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn load(name: &str, contents: &str, label: LabelSpec) -> Result<Dataset, Diag> {
        let file = TempFile::new(name, contents.as_bytes());
        load_csv(&file.0, label, span())
    }

    fn class(name: &str) -> LabelSpec {
        LabelSpec::Class(name.into())
    }

    /// Loads `contents` expecting a `gradc::data::csv` error and returns its message after the file name.
    fn csv_error(name: &str, contents: &str, label: LabelSpec) -> (String, String) {
        let d = load(name, contents, label).expect_err("should fail");
        assert_eq!(d.code, "gradc::data::csv", "{}", d.message);
        assert_eq!(d.label.as_ref().map(|l| l.0), Some(span()));
        let (_, message) = d.message.split_once("`: ").expect("message starts with the file name");
        (message.to_string(), d.help.expect("every error has help"))
    }

    #[test]
    fn loads_classes() {
        let ds = load("classes", "x1,x2,label\n1,2,0\n-3.5, 4e1 ,2\n\n0.5,.25,1\n", class("label")).unwrap();
        assert_eq!((ds.n, ds.d), (3, 2));
        assert_eq!(ds.features, [1.0, 2.0, -3.5, 40.0, 0.5, 0.25]);
        assert_eq!(ds.labels, Labels::Classes { y: vec![0, 2, 1], classes: 3 });
    }

    #[test]
    fn label_column_may_be_anywhere_and_integral_floats_are_classes() {
        let ds = load("labelfirst", "y,a\n1.0,7\n0,8\n", class("y")).unwrap();
        assert_eq!(ds.features, [7.0, 8.0]);
        assert_eq!(ds.labels, Labels::Classes { y: vec![1, 0], classes: 2 });
    }

    #[test]
    fn loads_targets_in_the_listed_order() {
        let text = "t2,x,t1\n1,2,3\n4,5,6\n";
        let ds = load("targets", text, LabelSpec::Targets(vec!["t1".into(), "t2".into()])).unwrap();
        assert_eq!((ds.n, ds.d, ds.features.clone()), (2, 1, vec![2.0, 5.0].into()));
        assert_eq!(ds.labels, Labels::Targets { y: vec![3.0, 1.0, 6.0, 4.0], k: 2 });
    }

    #[test]
    fn label_columns_can_be_left_out_where_present() {
        let without = |names: &[&str]| LabelSpec::Without(names.iter().map(|n| n.to_string()).collect());
        let ds = load("without", "t2,x,t1\n1,2,3\n", without(&["t1", "t2"])).unwrap();
        assert_eq!((ds.d, ds.features.clone(), ds.labels.clone()), (1, vec![2.0].into(), Labels::None));
        let ds = load("without_absent", "x,z\n1,2\n", without(&["label"])).unwrap();
        assert_eq!((ds.d, ds.features), (2, vec![1.0, 2.0].into()), "a file without them is all features");
    }

    #[test]
    fn handles_quotes_crlf_bom_and_no_labels() {
        let text = "\u{feff}\"a\",\" b \"\r\n\"1\" , 2\r\n  \r\n\"3\",\"4\"";
        let ds = load("quotes", text, LabelSpec::None).unwrap();
        assert_eq!((ds.n, ds.d, ds.labels.clone()), (2, 2, Labels::None));
        assert_eq!(ds.features, [1.0, 2.0, 3.0, 4.0]);
        // Quoted header names keep inner text, including commas, newlines and doubled quotes.
        let ds = load("quoted-names", "\"x, \"\"1\"\"\",\"multi\nline\"\n1,2\n", class("multi\nline")).unwrap();
        assert_eq!(ds.features, [1.0]);
        let err = load("quoted-names2", "\"x, \"\"1\"\"\",y\n1,2\n", class("nope")).unwrap_err();
        assert_eq!(err.help.as_deref(), Some("available columns: `x, \"1\"`, `y`"));
    }

    #[test]
    fn missing_file_and_directory() {
        let d = load_csv(Path::new("/definitely/not/here.csv"), LabelSpec::None, span()).unwrap_err();
        assert_eq!(d.code, "gradc::data::missing");
        assert!(d.message.starts_with("`/definitely/not/here.csv`: cannot read it: "), "{}", d.message);
        assert!(d.help.is_some() && d.label.is_some());
        let d = load_csv(&std::env::temp_dir(), LabelSpec::None, span()).unwrap_err();
        assert_eq!(d.code, "gradc::data::missing");
        assert!(d.message.ends_with("is a directory, not a data file"), "{}", d.message);
    }

    #[test]
    fn empty_file_and_header_only() {
        assert_eq!(csv_error("empty", "", LabelSpec::None).0, "the file is empty");
        assert_eq!(csv_error("blank", "\n  \n", LabelSpec::None).0, "the file is empty");
        assert_eq!(csv_error("header", "a,b\n", LabelSpec::None).0, "the header is not followed by any data rows");
    }

    #[test]
    fn bad_numbers_name_line_and_column() {
        let text = "x1,x2,label\n1,2,0\n\n3,abc,1\n";
        assert_eq!(csv_error("badnum", text, class("label")).0, "line 4, column 2 (`x2`): `abc` is not a number");
        let text = "x1,x2\n1,\n";
        let (message, help) = csv_error("emptyfield", text, LabelSpec::None);
        assert_eq!(message, "line 2, column 2 (`x2`) is empty");
        assert_eq!(help, "fill in the missing value or remove the row");
        assert_eq!(
            csv_error("nan", "x\nNaN\n", LabelSpec::None).0,
            "line 2, column 1 (`x`): `NaN` is not a finite number"
        );
        assert_eq!(
            csv_error("huge", "x\n1e39\n", LabelSpec::None).0,
            "line 2, column 1 (`x`): `1e39` is too large for f32"
        );
    }

    #[test]
    fn ragged_rows() {
        let (message, help) = csv_error("ragged", "a,b,c\n1,2,3\n4,5\n", LabelSpec::None);
        assert_eq!(message, "line 3 has 2 fields, but the header has 3");
        assert!(help.contains("missing or extra comma"));
        assert_eq!(csv_error("extra", "a,b\n1,2,\n", LabelSpec::None).0, "line 2 has 3 fields, but the header has 2");
    }

    #[test]
    fn unknown_label_column_lists_the_columns() {
        let (message, help) = csv_error("nolabel", "x1,x2,label\n1,2,0\n", class("lable"));
        assert_eq!(message, "there is no column named `lable`");
        assert_eq!(help, "available columns: `x1`, `x2`, `label`");
        let spec = LabelSpec::Targets(vec!["y".into()]);
        assert_eq!(csv_error("notarget", "x,z\n1,2\n", spec).0, "there is no column named `y`");
    }

    #[test]
    fn diagnostic_renders_against_the_grad_source() {
        let source = "data d = csv(\"pts.csv\", label: \"lable\")\n";
        let mut sources = crate::diag::SourceMap::default();
        let id = sources.add("model.grad", source.into());
        let start = source.find("csv").unwrap();
        let at = Span::new(id, start, source.len() - 1);
        let file = TempFile::new("render", b"x1,x2,label\n1,2,0\n");
        let rendered = load_csv(&file.0, class("lable"), at).unwrap_err().with_sources(&sources).render_plain();
        for part in [
            "gradc::data::csv",
            "there is no column named `lable`",
            "model.grad",
            "file loaded here",
            "available columns: `x1`, `x2`, `label`",
        ] {
            assert!(rendered.contains(part), "missing {part:?} in:\n{rendered}");
        }
    }

    #[test]
    fn bad_class_labels() {
        for (value, name) in [("1.5", "frac"), ("-1", "neg"), ("cat", "word"), ("3e9", "big")] {
            let text = format!("x,label\n1,0\n2,{value}\n");
            let (message, help) = csv_error(name, &text, class("label"));
            assert_eq!(
                message,
                format!("line 3, column 2 (`label`): class label `{value}` is not a non-negative integer")
            );
            assert!(help.starts_with("class labels must be 0, 1"));
        }
    }

    #[test]
    fn lines_are_counted_across_blank_lines_and_quoted_newlines() {
        let text = "a,b\r\n\r\n  \r\n\n1,2\n\"3\",\"4\n\"\n\n5\n";
        assert_eq!(csv_error("blank_lines", text, LabelSpec::None).0, "line 9 has 1 fields, but the header has 2");
        let text = "a,b\n\n \t\n\"x\n\",1\n";
        assert_eq!(csv_error("quoted_nl", text, LabelSpec::None).0, "line 4, column 1 (`a`): `x` is not a number");
        // A quote inside an unquoted field is a character of it, not an opening quote.
        assert_eq!(
            csv_error("inner_quote", "a,b\n1,2\"3\n", LabelSpec::None).0,
            "line 2, column 2 (`b`): `2\"3` is not a number"
        );
    }

    #[test]
    fn structural_errors() {
        assert_eq!(csv_error("dup", "a,b,a\n1,2,3\n", LabelSpec::None).0, "two columns are named `a`");
        assert_eq!(
            csv_error("unclosed", "a,b\n1,\"2\n3,4\n", LabelSpec::None).0,
            "line 2: a quoted field is never closed"
        );
        assert_eq!(
            csv_error("afterquote", "a,b\n1,\"2\"x\n", LabelSpec::None).0,
            "line 2: unexpected text after a closing quote"
        );
        assert_eq!(
            csv_error("onlylabel", "label\n1\n", class("label")).0,
            "no feature columns are left once the labels are taken out"
        );
        assert_eq!(csv_error("notargets", "a,b\n1,2\n", LabelSpec::Targets(vec![])).0, "no target columns were named");
        let twice = LabelSpec::Targets(vec!["b".into(), "b".into()]);
        assert_eq!(csv_error("twice", "a,b\n1,2\n", twice).0, "target column `b` is named twice");
        let file = TempFile::new("latin1", b"a,b\n1,2\n3,\xe94\n");
        let d = load_csv(&file.0, LabelSpec::None, span()).unwrap_err();
        assert_eq!(d.code, "gradc::data::csv");
        assert!(d.message.ends_with("line 3 is not valid UTF-8 text"), "{}", d.message);
    }

    #[test]
    fn write_then_load_round_trips() {
        let ds = blobs(&Blobs { n: 25, classes: 4, dim: 3, std: 0.3 }, 3, span()).unwrap();
        let mut text = Vec::new();
        write_csv(&ds, &mut text).unwrap();
        let file = TempFile::new("roundtrip", &text);
        assert_eq!(load_csv(&file.0, class("label"), span()).unwrap(), ds);
        let targets = Dataset {
            features: vec![0.1, 0.2].into(),
            n: 2,
            d: 1,
            shape: vec![1],
            labels: Labels::Targets { y: vec![1e-7, -3.0], k: 1 },
        };
        let mut text = Vec::new();
        write_csv(&targets, &mut text).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), "x1,y\n0.1,0.0000001\n0.2,-3\n");
    }

    /// The committed example file: 3 classes × 100 points, 2 features, seed 1.
    fn example_blobs() -> Vec<u8> {
        let ds = blobs(&Blobs { n: 300, classes: 3, dim: 2, std: 1.0 }, 1, span()).unwrap();
        let mut text = Vec::new();
        write_csv(&ds, &mut text).unwrap();
        text
    }

    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/blobs.csv")
    }

    /// The committed example still matches the generator, byte for byte, and loads cleanly.
    /// `GRADC_REGENERATE=1 cargo test --lib example_blobs` rewrites it first.
    #[test]
    fn example_blobs_csv_is_current() {
        if std::env::var_os("GRADC_REGENERATE").is_some() {
            std::fs::write(example_path(), example_blobs()).expect("write examples/data/blobs.csv");
        }
        let committed = std::fs::read(example_path()).expect("examples/data/blobs.csv exists");
        assert!(
            committed == example_blobs(),
            "examples/data/blobs.csv is stale; regenerate it with GRADC_REGENERATE=1"
        );
        let ds = load_csv(&example_path(), class("label"), span()).unwrap();
        assert_eq!((ds.n, ds.d), (300, 2));
        assert!(matches!(ds.labels, Labels::Classes { classes: 3, .. }));
    }
}
