//! The TextMate grammar (editors/grad.tmLanguage.json), loaded by syntect: every example and
//! stdlib file is highlighted without error, and keywords, declarations, numbers, strings,
//! comments and operators get their scopes at known places.
//!
//! syntect reads Sublime grammars, so the TextMate one is translated into a `.sublime-syntax`
//! first: a `begin`/`end` rule becomes a match that pushes a context popped by the `end` match,
//! and the repository's rules become named contexts (as Sublime's own converter does).

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use syntect::parsing::{ParseState, ScopeStack, SyntaxDefinition, SyntaxSet, SyntaxSetBuilder};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A TextMate `captures` object as Sublime's (`{1: scope}`).
fn captures(c: &Value) -> Value {
    let map: Map<String, Value> =
        c.as_object().expect("captures is an object").iter().map(|(k, v)| (k.clone(), v["name"].clone())).collect();
    Value::Object(map)
}

/// One TextMate rule as a Sublime context entry.
fn rule(r: &Value) -> Value {
    if let Some(include) = r["include"].as_str() {
        let target = include.strip_prefix('#').unwrap_or("main");
        return json!({ "include": target });
    }
    let mut out = Map::new();
    if let Some(m) = r["match"].as_str() {
        out.insert("match".into(), m.into());
        if let Some(name) = r["name"].as_str() {
            out.insert("scope".into(), name.into());
        }
        if !r["captures"].is_null() {
            out.insert("captures".into(), captures(&r["captures"]));
        }
        return Value::Object(out);
    }
    let begin = r["begin"].as_str().expect("a rule has match, begin or include");
    let end = r["end"].as_str().expect("a begin rule has an end");
    let mut inner = vec![json!({ "meta_scope": r["name"] }), json!({ "match": end, "pop": true })];
    inner.extend(r["patterns"].as_array().into_iter().flatten().map(rule));
    out.insert("match".into(), begin.into());
    out.insert("push".into(), Value::Array(inner));
    Value::Object(out)
}

/// The grammar as a syntect syntax set.
fn syntaxes() -> SyntaxSet {
    let text = std::fs::read_to_string(root().join("editors/grad.tmLanguage.json")).expect("read the grammar");
    let tm: Value = serde_json::from_str(&text).expect("the grammar is JSON");
    let patterns = |v: &Value| -> Value {
        let list = v["patterns"].as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
        Value::Array(list.iter().map(rule).collect())
    };
    let mut contexts = Map::new();
    contexts.insert("main".into(), patterns(&tm));
    for (name, r) in tm["repository"].as_object().expect("a repository") {
        contexts.insert(name.clone(), patterns(r));
    }
    let sublime = json!({
        "name": tm["name"],
        "scope": tm["scopeName"],
        "file_extensions": tm["fileTypes"],
        "contexts": contexts,
    });
    // JSON is YAML, except that Sublime wants capture groups as integer keys.
    let yaml = serde_json::to_string(&sublime).expect("serialize");
    let yaml = regex_like_int_keys(&yaml);
    let def = SyntaxDefinition::load_from_str(&yaml, true, None).expect("the grammar loads");
    let mut builder = SyntaxSetBuilder::new();
    builder.add(def);
    builder.build()
}

/// `"1":` → `1:` in the JSON text (capture numbers as integers).
fn regex_like_int_keys(s: &str) -> String {
    let mut out = s.to_string();
    for n in 0..10 {
        out = out.replace(&format!("\"{n}\":"), &format!("{n}: "));
    }
    out
}

/// Every token of `text` with the scopes it is in: (line from 1, token text, scope names).
fn highlight(set: &SyntaxSet, path: &Path, text: &str) -> Vec<(usize, String, String)> {
    let syntax = set.find_syntax_by_extension("grad").expect("the grad syntax");
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = format!("{line}\n");
        let ops = state.parse_line(&line, set).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        let mut at = 0;
        for (pos, op) in ops {
            if pos > at {
                tokens.push((i + 1, line[at..pos].to_string(), format!("{:?}", stack)));
            }
            stack.apply(&op).unwrap_or_else(|e| panic!("{}:{}: {e:?}", path.display(), i + 1));
            at = pos;
        }
        tokens.push((i + 1, line[at..].trim_end_matches('\n').to_string(), format!("{:?}", stack)));
    }
    tokens
}

/// The scopes of the token `token` on line `line` of `tokens` (the first such token).
fn scope_of<'a>(tokens: &'a [(usize, String, String)], line: usize, token: &str) -> &'a str {
    let found = tokens.iter().find(|(l, t, _)| *l == line && t.trim() == token);
    let on_line: Vec<_> = tokens.iter().filter(|(l, ..)| *l == line).collect();
    &found.unwrap_or_else(|| panic!("no token {token:?} on line {line}: {on_line:?}")).2
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "grad"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_example_and_stdlib_file_highlights() {
    let set = syntaxes();
    let all: Vec<PathBuf> = files("examples").into_iter().chain(files("stdlib")).collect();
    assert!(all.len() >= 15, "{all:?}");
    for path in all {
        let text = std::fs::read_to_string(&path).expect("read");
        let tokens = highlight(&set, &path, &text);
        // Every line that is not blank gets a scope beyond the file's own somewhere, and no
        // string or block comment runs on past the end of the file.
        let last = tokens.last().expect("tokens");
        assert!(!last.2.contains("string") && !last.2.contains("comment.block"), "{}: {last:?}", path.display());
        for (line, text) in text.lines().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            let scoped = tokens.iter().any(|(l, t, s)| *l == line + 1 && !t.trim().is_empty() && s.contains(".grad"));
            let plain = text.chars().all(|c| c.is_alphanumeric() || " _,.()[]{}".contains(c));
            assert!(scoped || plain, "{}:{}: nothing highlighted in {text:?}", path.display(), line + 1);
        }
    }
}

#[test]
fn tokens_get_their_scopes() {
    let set = syntaxes();
    let read = |p: &str| {
        let path = root().join(p);
        let text = std::fs::read_to_string(&path).expect("read");
        (highlight(&set, &path, &text), text)
    };
    let (q, text) = read("examples/quadratic.grad");
    assert!(text.lines().nth(2).is_some_and(|l| l.starts_with("param theta")), "quadratic.grad changed:\n{text}");
    assert!(scope_of(&q, 1, "// Minimise (θ - 3)² from θ = 0 with plain gradient descent.")
        .contains("comment.line.double-slash.grad"));
    assert!(scope_of(&q, 3, "param").contains("storage.type.grad"));
    assert!(scope_of(&q, 3, "theta").contains("variable.other.definition.grad"));
    assert!(scope_of(&q, 3, "f32").contains("support.type.grad"));
    assert!(scope_of(&q, 3, "0.0").contains("constant.numeric.grad"));
    assert!(scope_of(&q, 5, "loss").contains("storage.type.loss.grad"));
    assert!(scope_of(&q, 5, "^").contains("keyword.operator.arithmetic.grad"));
    assert!(scope_of(&q, 5, "-").contains("keyword.operator.arithmetic.grad"));
    assert!(scope_of(&q, 7, "train").contains("storage.type.block.grad"));
    assert!(scope_of(&q, 7, "sgd").contains("entity.name.function.call.grad"));
    assert!(scope_of(&q, 7, "lr").contains("variable.parameter.grad"));
    assert!(scope_of(&q, 7, "100").contains("constant.numeric.grad"));

    let (b, text) = read("examples/blobs_softmax.grad");
    let line = |prefix: &str| text.lines().position(|l| l.starts_with(prefix)).expect(prefix) + 1;
    let (uses, data, model) = (line("use std.nn"), line("data blobs"), line("model classifier"));
    assert!(scope_of(&b, uses, "use").contains("keyword.control.import.grad"));
    assert!(scope_of(&b, data, "data").contains("storage.type.grad"));
    assert!(scope_of(&b, data, "blobs").contains("variable.other.definition.grad"));
    assert!(scope_of(&b, data, "\"data/blobs.csv\"").contains("string.quoted.double.grad"));
    assert!(scope_of(&b, data, "|>").contains("keyword.operator.pipe.grad"));
    assert!(scope_of(&b, model, "model").contains("storage.type.function.grad"));
    assert!(scope_of(&b, model, "classifier").contains("entity.name.function.grad"));

    let (o, text) = read("stdlib/optim.grad");
    let sgd = text.lines().position(|l| l.starts_with("optimizer sgd")).expect("sgd") + 1;
    assert!(scope_of(&o, sgd - 1, text.lines().nth(sgd - 2).expect("doc")).contains("comment.line.documentation.grad"));
    assert!(scope_of(&o, sgd, "optimizer").contains("storage.type.function.grad"));
    assert!(scope_of(&o, sgd, "sgd").contains("entity.name.function.grad"));
    assert!(scope_of(&o, sgd, "false").contains("constant.language.boolean.grad"));
    assert!(scope_of(&o, sgd + 1, "state").contains("storage.type.grad"));
    assert!(scope_of(&o, sgd + 3, "==").contains("keyword.operator.comparison.grad"));
    assert!(scope_of(&o, sgd + 5, "-=").contains("keyword.operator.assignment.compound.grad"));

    let (s, text) = read("stdlib/schedule.grad");
    let esc = text.lines().position(|l| l.contains("\\\"cos\\\"")).expect("an escape") + 1;
    assert!(scope_of(&s, esc, "\\\"").contains("constant.character.escape.grad"));
}
