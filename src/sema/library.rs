//! Files imported with `use "path.grad"`: each read and parsed once, its declarations resolved
//! in a scope of its own (the prelude, its own imports and its own functions), and an import
//! cycle refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::errors;
use super::scope::{import_std, prelude, StdLib};
use crate::diag::{Diag, FileId, SourceMap};
use crate::syntax::ast::{FuncDecl, FuncKind, Item, UseFile};

/// The most bytes an imported file may hold, as for the file given on the command line.
const MAX_LIBRARY_BYTES: u64 = 16 << 20;

/// The imported files of one compilation.
#[derive(Default)]
pub(super) struct Libraries {
    /// What the bodies of each imported file see, by its id.
    pub(super) scopes: HashMap<FileId, HashMap<String, FuncDecl>>,
    /// Each file read so far, by canonical path: the functions it declares.
    loaded: HashMap<PathBuf, Vec<FuncDecl>>,
    /// The files being imported, outermost first (the user's file at the bottom).
    loading: Vec<(PathBuf, String)>,
    /// Files whose import failed and was reported: a second import of one adds nothing.
    failed: Vec<PathBuf>,
}

impl Libraries {
    /// Imports into a compilation whose own file is `path` (as the user named it), which an
    /// import of it back would be a cycle with.
    pub(super) fn new(path: &str) -> Libraries {
        let loading = std::fs::canonicalize(path).map(|p| vec![(p, path.to_string())]).unwrap_or_default();
        Libraries { loading, ..Libraries::default() }
    }

    /// The functions, layers, optimizers and schedules the file `u` names declares; `dir` is
    /// the directory of the file that imports it.
    pub(super) fn import(
        &mut self,
        u: &UseFile,
        dir: &Path,
        std: &StdLib,
        sources: &mut SourceMap,
    ) -> Result<Vec<FuncDecl>, Diag> {
        let path = dir.join(&u.path);
        let canonical = std::fs::canonicalize(&path).map_err(|e| errors::library_missing(u, &path, e))?;
        if let Some(at) = self.loading.iter().position(|(p, _)| *p == canonical) {
            let chain: Vec<&str> = self.loading[at..].iter().map(|(_, shown)| shown.as_str()).collect();
            return Err(errors::import_cycle(u, &chain));
        }
        if let Some(decls) = self.loaded.get(&canonical) {
            return Ok(decls.clone());
        }
        if self.failed.contains(&canonical) {
            return Ok(vec![]);
        }
        let result = self.load(u, &path, &canonical, std, sources);
        if result.is_err() {
            self.failed.push(canonical);
        }
        result
    }

    /// Whether some import failed (what the importing files then lack is no news).
    pub(super) fn any_failed(&self) -> bool {
        !self.failed.is_empty()
    }

    /// Reads, parses and resolves the file at `path` (`canonical`), imported by `u`.
    fn load(
        &mut self,
        u: &UseFile,
        path: &Path,
        canonical: &Path,
        std: &StdLib,
        sources: &mut SourceMap,
    ) -> Result<Vec<FuncDecl>, Diag> {
        let bytes = crate::files::read_regular(canonical, MAX_LIBRARY_BYTES)
            .map_err(|r| errors::library_unreadable(u, path, r))?;
        let text = String::from_utf8(bytes).map_err(|_| errors::library_not_utf8(u, path))?;
        let shown = path.display().to_string();
        let id = sources.add(&shown, text.clone());
        let file = crate::syntax::parse(&text, id)?;
        self.loading.push((canonical.to_path_buf(), shown));
        let lib_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut scope = prelude(std);
        let mut own: Vec<FuncDecl> = Vec::new();
        let mut found = Vec::new();
        for item in file.items {
            match item {
                Item::Use(s) => import_std(&s, std, &mut scope, &mut found),
                Item::UseFile(f) => match self.import(&f, &lib_dir, std, sources) {
                    Ok(decls) => scope.extend(decls.into_iter().map(|d| (d.name.name.clone(), d))),
                    Err(d) => found.push(d),
                },
                Item::Func(f) => match f.kind {
                    FuncKind::Fn | FuncKind::Layer | FuncKind::Optimizer | FuncKind::Schedule => {
                        match own.iter().find(|o| o.name.name == f.name.name) {
                            Some(prev) => found.push(super::errors::defined_twice(&f.name, prev.name.span)),
                            None => {
                                scope.insert(f.name.name.clone(), f.clone());
                                own.push(f);
                            }
                        }
                    }
                    FuncKind::Model | FuncKind::Loss => {
                        found.push(errors::not_in_library(f.name.span, "a model or loss"))
                    }
                },
                Item::Param(p) => found.push(errors::not_in_library(p.name.span, "a parameter")),
                Item::Data(d) => found.push(errors::not_in_library(d.name.span, "a data declaration")),
                Item::Train(b) | Item::Compare(b) => {
                    found.push(errors::not_in_library(b.span, "a train or compare block"))
                }
            }
        }
        self.loading.pop();
        if let Some(d) = Diag::combine(found) {
            return Err(d);
        }
        self.scopes.insert(id, scope);
        self.loaded.insert(canonical.to_path_buf(), own.clone());
        Ok(own)
    }
}
