//! IR snapshots: the text `gradc ir` prints for a stage of the pipeline, compared with a stored
//! `.ir` file (`--check`) or written to it (`--update`); [`suite`] does it for a folder.

pub mod errors;
pub mod suite;

use std::path::Path;

use crate::codegen::CompileOptions;
use crate::diag::{Diag, SourceMap};
use crate::driver::{self, Compiled, Front};
use crate::files::Refusal;
use crate::ir::print::print;

/// Pipeline stages `gradc ir` can print; [`Stage::name`] is also the middle of a snapshot's
/// file name (`model.backward.ir`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    /// The parsed program, printed back as source.
    Ast,
    /// The training forward graph.
    Forward,
    /// The forward graph in evaluation mode: running statistics, no dropout.
    Eval,
    /// The gradients (simplified, unless raw).
    Backward,
    /// The optimizer's update.
    Update,
    /// Forward, backward and update composed and optimised: the step that is compiled.
    Optimized,
    /// The fused kernels of the compiled step.
    Kernels,
    /// The Cranelift IR of the compiled step.
    Clif,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 8] = [
        Stage::Ast,
        Stage::Forward,
        Stage::Eval,
        Stage::Backward,
        Stage::Update,
        Stage::Optimized,
        Stage::Kernels,
        Stage::Clif,
    ];

    /// The name `--stage` takes.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ast => "ast",
            Stage::Forward => "forward",
            Stage::Eval => "eval",
            Stage::Backward => "backward",
            Stage::Update => "update",
            Stage::Optimized => "optimized",
            Stage::Kernels => "kernels",
            Stage::Clif => "clif",
        }
    }

    /// The stage called `name`.
    pub fn named(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The text of `file` at `stage`; `raw` prints the backward graph as differentiation left it,
/// before simplification. The AST needs only a parse, so it prints for a program that does not
/// compile.
pub fn text(file: &Path, stage: Stage, raw: bool) -> Result<String, (Diag, SourceMap)> {
    let mut front = driver::parse(file)?;
    if stage == Stage::Ast {
        return Ok(crate::syntax::print::print(&front.ast));
    }
    let c = driver::compile(&mut front).map_err(|d| (d, front.sources.clone()))?;
    stage_text(&front, &c, stage, raw).map_err(|d| (d, front.sources))
}

/// The text of a compiled program at `stage`, as [`text`] prints it.
pub fn stage_text(front: &Front, c: &Compiled, stage: Stage, raw: bool) -> Result<String, Diag> {
    Ok(match stage {
        Stage::Ast => crate::syntax::print::print(&front.ast),
        Stage::Forward => print(&c.lowered.forward),
        Stage::Eval => print(&driver::eval_graph(c)?),
        // Differentiation leaves `sub 2.0, 1.0` (the exponent of a square's derivative) and
        // `mul 1.0, ...` (the seed of the chain rule); the same passes as the step clear them.
        Stage::Backward if raw => print(&c.backward),
        Stage::Backward => print(&crate::passes::optimize(&c.backward)),
        Stage::Update => print(&c.lowered.update),
        Stage::Optimized => print(&c.optimized),
        Stage::Kernels => jit(c)?.kernels().to_string(),
        Stage::Clif => jit(c)?.clif().unwrap_or_default().to_string(),
    })
}

/// The compiled step, verified and with its Cranelift IR kept for printing.
fn jit(c: &Compiled) -> Result<crate::codegen::Executable, Diag> {
    driver::jit(&c.optimized, &CompileOptions { verify: true, keep_clif: true, threads: 1, flush_denormals: false })
}

/// How a stored snapshot compares with the printed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// The same text.
    Matches,
    /// Different text: a unified diff from the stored file to the printed text.
    Differs(String),
    /// No file at the path.
    Missing,
}

/// The most bytes of a stored snapshot that are read.
const MAX_SNAPSHOT_BYTES: u64 = 1 << 28;

/// Compares `printed` with the snapshot stored at `path`.
pub fn compare(printed: &str, path: &Path) -> Result<Comparison, Diag> {
    // Read as any named file is: a FIFO would block and a device never end.
    let stored = match crate::files::read_regular(path, MAX_SNAPSHOT_BYTES) {
        Ok(bytes) => bytes,
        Err(Refusal::Missing(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Comparison::Missing),
        Err(r) => return Err(errors::unreadable(path, &r.reason("a snapshot"))),
    };
    let stored = String::from_utf8(stored).map_err(|_| errors::not_text(path))?;
    if stored == printed {
        return Ok(Comparison::Matches);
    }
    Ok(Comparison::Differs(diff(&stored, printed, path)))
}

/// A unified diff, three lines of context, from the stored text to the printed one; a missing
/// final newline is shown as such (`\ No newline at end of file`).
pub fn diff(stored: &str, printed: &str, path: &Path) -> String {
    similar::TextDiff::from_lines(stored, printed)
        .unified_diff()
        .context_radius(3)
        .header(&path.display().to_string(), "printed")
        .to_string()
}

/// Writes `printed` to `path` unless it already holds it; whether it wrote. Only a new or
/// regular file is replaced, atomically ([`crate::output::write_atomically`]).
pub fn update(printed: &str, path: &Path) -> Result<bool, Diag> {
    crate::output::check(path).map_err(|e| errors::unwritable(path, &e))?;
    if compare(printed, path)? == Comparison::Matches {
        return Ok(false);
    }
    crate::output::write_atomically(path, printed.as_bytes()).map_err(|e| errors::unwritable(path, &e))?;
    Ok(true)
}

#[cfg(test)]
mod tests;
