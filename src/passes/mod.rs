//! Optimisation passes, each a pure function graph → graph in its own module, and the
//! pipeline [`optimize`] that runs them with the graph verifier after every pass.

pub mod cse;
pub mod dce;
pub mod simplify;

#[cfg(test)]
mod tests;

use crate::ir::{print::print, Graph, Op};

/// The most simplify → CSE → DCE rounds [`optimize`] runs.
const MAX_ROUNDS: usize = 4;

/// Simplify, CSE and DCE, repeated while the graph shrinks; same inputs and outputs.
pub fn optimize(g: &Graph) -> Graph {
    let mut g = g.clone();
    for _ in 0..MAX_ROUNDS {
        let before = g.nodes.len();
        g = checked("simplify", &g, simplify::run(&g));
        g = checked("cse", &g, cse::run(&g));
        g = checked("dce", &g, dce::run(&g));
        if g.nodes.len() >= before {
            break;
        }
    }
    g
}

/// `after`, once verified in debug and test builds: a pass that breaks an invariant or changes
/// the graph's signature is a compiler bug, reported with the pass name and the graph.
fn checked(pass: &str, before: &Graph, after: Graph) -> Graph {
    if cfg!(debug_assertions) {
        let signature =
            |g: &Graph| (g.inputs.clone(), g.outputs.iter().map(|o| (o.name.clone(), o.role)).collect::<Vec<_>>());
        let problem = match after.verify() {
            Err(e) => Some(e),
            Ok(()) if signature(before) != signature(&after) => Some("the inputs or outputs changed".to_string()),
            Ok(()) => None,
        };
        if let Some(e) = problem {
            panic!("internal compiler error: pass `{pass}` broke the graph: {e}\n{}", show(&after));
        }
    }
    after
}

/// The text form of a possibly broken graph: the printer's when its ids are all in range and
/// in order, else one raw line per node.
fn show(g: &Graph) -> String {
    let printable = g
        .nodes
        .iter()
        .enumerate()
        .all(|(i, n)| n.args.iter().all(|a| a.index() < i) && !matches!(n.op, Op::Input(k) if k >= g.inputs.len()))
        && g.outputs.iter().all(|o| o.node.index() < g.nodes.len());
    if printable {
        return print(g);
    }
    let lines: Vec<String> =
        g.nodes.iter().enumerate().map(|(i, n)| format!("  #{i} = {:?} {:?} : {}", n.op, n.args, n.ty)).collect();
    format!("graph {} (raw, not printable)\n{}\n  outputs {:?}\n", g.name, lines.join("\n"), g.outputs)
}
