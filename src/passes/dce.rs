//! Dead-code elimination. Assumes a verified graph; guarantees the same inputs and outputs,
//! every node reachable from an output or reading an input kept in order, and compact ids.

use crate::ir::{Graph, NodeId, Op};

/// Removes the nodes no output depends on; every input keeps its `Input` node.
pub fn run(g: &Graph) -> Graph {
    let mut live = vec![false; g.nodes.len()];
    for o in &g.outputs {
        live[o.node.index()] = true;
    }
    for i in (0..g.nodes.len()).rev() {
        if matches!(g.nodes[i].op, Op::Input(_)) {
            live[i] = true;
        }
        if live[i] {
            for a in &g.nodes[i].args {
                live[a.index()] = true;
            }
        }
    }
    let mut out = Graph { name: g.name.clone(), inputs: g.inputs.clone(), nodes: Vec::new(), outputs: Vec::new() };
    let mut map: Vec<Option<NodeId>> = vec![None; g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        if live[i] {
            let args = node.args.iter().map(|a| map[a.index()].expect("operands of live nodes are live")).collect();
            map[i] = Some(out.push_typed(node.op.clone(), args, node.ty.clone()));
        }
    }
    for o in &g.outputs {
        out.add_output(&o.name, map[o.node.index()].expect("outputs are live"), o.role);
    }
    out
}
