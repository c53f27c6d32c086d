//! Common-subexpression elimination. Assumes a verified graph; guarantees the same inputs and
//! outputs and no two nodes with the same op and operands (constants compared by bit pattern,
//! operands of commutative ops in either order), in one forward sweep.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::ir::{Graph, NodeId, Op};

/// An op compared by value, with constants compared by bit pattern (so `0.0` and `-0.0`
/// stay apart and a NaN equals itself).
struct OpKey<'a>(&'a Op);

impl PartialEq for OpKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self.0, other.0) {
            (Op::Const(x), Op::Const(y)) => x.to_bits() == y.to_bits(),
            (x, y) => x == y,
        }
    }
}

impl Eq for OpKey<'_> {}

impl Hash for OpKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name().hash(state);
        if let Op::Const(c) = self.0 {
            c.to_bits().hash(state);
        }
    }
}

/// Whether swapping the operands leaves the result unchanged (a fact of the op table).
fn commutative(op: &Op) -> bool {
    matches!(op, Op::Binary(b) if b.is_commutative())
}

/// Replaces each node by the first earlier node with the same op and operands.
pub fn run(g: &Graph) -> Graph {
    let mut out = Graph { name: g.name.clone(), inputs: g.inputs.clone(), nodes: Vec::new(), outputs: Vec::new() };
    let mut seen: HashMap<(OpKey, Vec<NodeId>), NodeId> = HashMap::new();
    let mut map: Vec<NodeId> = Vec::with_capacity(g.nodes.len());
    for node in &g.nodes {
        let args: Vec<NodeId> = node.args.iter().map(|a| map[a.index()]).collect();
        let mut key_args = args.clone();
        if commutative(&node.op) {
            key_args.sort();
        }
        let id = *seen
            .entry((OpKey(&node.op), key_args))
            .or_insert_with(|| out.push_typed(node.op.clone(), args, node.ty.clone()));
        map.push(id);
    }
    for o in &g.outputs {
        out.add_output(&o.name, map[o.node.index()], o.role);
    }
    out
}
