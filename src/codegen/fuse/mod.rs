//! Fusion: partitions a graph into kernels, the unit of code generation.
//!
//! Assumes a graph that passes `Graph::verify`. Guarantees: every node that is not an input, a
//! constant or a view is computed by exactly one kernel; the kernel graph is acyclic and the
//! kernels are returned in a valid schedule order; every graph output has a buffer.
//!
//! Decisions:
//! - Views (`Broadcast`, `Reshape`, `Permute`) are never computed: a view of a buffer becomes a strided load
//!   (stride 0 along broadcast dims, never a copy), a view of a constant stays an immediate. A
//!   `Reshape` that strides cannot express (e.g. flattening a broadcast) first materialises its
//!   operand with a copy kernel, as do GEMM/one-hot/argmax operands that are not contiguous.
//! - First, the elementwise work right after a convolution (bias, ReLU) or a max-pool gradient
//!   (ReLU's gradient mask) folds into that window kernel's epilogue (`epilogue`); folded nodes
//!   join no group, and a folded user reads nothing, since its kernel reads the window op's
//!   operands.
//! - A reduction absorbs the elementwise producers (of its input's shape) whose every use is
//!   inside the reduction's cone, so `sum(exp(x - m))` is one loop whose intermediates stay in
//!   registers. Such an absorbed set is convex by construction: all its users are inside it.
//! - The other elementwise nodes are grouped greedily in topological order: a node joins the
//!   groups of its elementwise operands (equal shapes by the op table, so a group has one
//!   iteration shape) unless the merged kernel would lie on a cycle of the kernel graph. That is
//!   checked explicitly, by walking back from the merged kernel's external operands through whole
//!   kernels (a kernel runs atomically, so reaching any member means depending on all of its
//!   inputs); reaching the merged kernel again means a cycle and the merge is refused. Multi-output
//!   groups (an optimizer's m, v and p updates) come from this merging. Then groups of one shape
//!   that read a common operand are merged too (same check), so the operand is read once.
//! - A group member is materialised when it is a graph output or has a user outside its kernel
//!   (another kernel, or a view, which is read at another iteration shape).
//! - Kernels are scheduled by a topological sort of the kernel graph, ties broken by the smallest
//!   node index (deterministic, close to source order), except that kernels writing a parameter
//!   or state update go as late as dependencies allow, so they can update in place; the sort
//!   re-checks acyclicity.

mod build;
mod epilogue;

use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

use crate::ir::print::fmt_const;
use crate::ir::{Class, Graph, Op, Shape, Type};

use super::kernel::{print_program, Kernel, Program, Value, ValueId};
use super::CodegenError;

/// Partitions a graph into scheduled kernels.
pub fn fuse(graph: &Graph) -> Result<Program, CodegenError> {
    let mut f = Fuser::new(graph);
    f.fold_epilogues();
    f.absorb_into_reductions();
    f.group_elementwise();
    f.merge_siblings();
    f.build()
}

/// The kernels of a graph, printed: what `gradc ir --stage kernels` shows.
pub fn print_kernels(graph: &Graph) -> Result<String, CodegenError> {
    Ok(print_program(&fuse(graph)?))
}

/// The kernel a node belongs to while partitioning; cycle checks treat each as one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    /// A node alone: input, constant, view, GEMM, one-hot, argmax, or an ungrouped node; a
    /// window node with the nodes of its epilogue.
    Node(usize),
    /// An elementwise group.
    Group(usize),
    /// A reduction (keyed by its node) with the producers it absorbed.
    Reduce(usize),
}

/// What a view chain resolves to.
enum Resolved {
    Const(f64),
    /// A buffer, its strides over the view's shape, and the first element read.
    Strided(ValueId, Vec<usize>, usize),
}

struct Fuser<'g> {
    g: &'g Graph,
    users: Vec<Vec<usize>>,
    is_output: Vec<bool>,
    /// The window node whose kernel computes each node folded into an epilogue.
    folded: Vec<Option<usize>>,
    /// The epilogue of each window node that has one.
    folds: HashMap<usize, epilogue::Fold>,
    /// The reduction each absorbed node belongs to.
    absorbed: Vec<Option<usize>>,
    /// Absorbed producers and the reduction itself, ascending, keyed by the reduction node.
    reduce_members: HashMap<usize, Vec<usize>>,
    /// Each node's group, as first assigned: [`Fuser::root`] follows merges to the live group.
    group_of: Vec<Option<usize>>,
    /// The group each group was merged into, if it was (while grouping; then group_of is
    /// resolved and this is no longer read).
    merged_into: Vec<Option<usize>>,
    /// Members (ascending once grouping is done); groups merged into another are left empty.
    groups: Vec<Vec<usize>>,
    /// Each live group's operands outside it, ascending, so a cycle check walks a group in the
    /// time of its boundary rather than of its members (fusion stays linear on long chains).
    externals: Vec<Vec<usize>>,
    /// The same for each reduction with its absorbed producers, by reduction node.
    reduce_externals: HashMap<usize, Vec<usize>>,
    values: Vec<Value>,
    value_of: Vec<Option<ValueId>>,
    /// A copy of an input, per input, for outputs that name an input node.
    input_copy: HashMap<usize, ValueId>,
    names: Vec<String>,
    /// Kernels with their tie-break priority, not yet scheduled.
    kernels: Vec<(usize, Kernel)>,
}

impl<'g> Fuser<'g> {
    fn new(g: &'g Graph) -> Fuser<'g> {
        let n = g.nodes.len();
        let mut users = vec![Vec::new(); n];
        for (i, node) in g.nodes.iter().enumerate() {
            for a in &node.args {
                users[a.index()].push(i);
            }
        }
        let mut is_output = vec![false; n];
        for o in &g.outputs {
            is_output[o.node.index()] = true;
        }
        // The numbering of `ir::print`: inputs by name, constants by value, the rest %0, %1, ...
        let mut next = 0;
        let names = g
            .nodes
            .iter()
            .map(|node| {
                if let Op::Input(k) = node.op {
                    g.inputs[k].name.clone()
                } else if let Op::Const(c) = node.op {
                    fmt_const(c)
                } else {
                    next += 1;
                    format!("%{}", next - 1)
                }
            })
            .collect();
        let values = g
            .inputs
            .iter()
            .enumerate()
            .map(|(k, i)| Value { name: i.name.clone(), ty: i.ty.clone(), input: Some(k) })
            .collect();
        let mut value_of = vec![None; n];
        for (i, node) in g.nodes.iter().enumerate() {
            if let Op::Input(k) = node.op {
                value_of[i] = Some(k);
            }
        }
        Fuser {
            g,
            users,
            is_output,
            folded: vec![None; n],
            folds: HashMap::new(),
            absorbed: vec![None; n],
            reduce_members: HashMap::new(),
            group_of: vec![None; n],
            merged_into: Vec::new(),
            groups: Vec::new(),
            externals: Vec::new(),
            reduce_externals: HashMap::new(),
            values,
            value_of,
            input_copy: HashMap::new(),
            names,
            kernels: Vec::new(),
        }
    }

    fn op(&self, x: usize) -> &'g Op {
        &self.g.nodes[x].op
    }

    fn args(&self, x: usize) -> impl Iterator<Item = usize> + 'g {
        self.g.nodes[x].args.iter().map(|a| a.index())
    }

    fn shape(&self, x: usize) -> &'g Shape {
        &self.g.nodes[x].ty.shape
    }

    fn is_reduction(&self, x: usize) -> bool {
        self.op(x).class() == Class::Reduction
    }

    /// Gives each reduction the elementwise producers of its input's shape that only it uses.
    fn absorb_into_reductions(&mut self) {
        for r in 0..self.g.nodes.len() {
            if !self.is_reduction(r) {
                continue;
            }
            let arg = self.g.nodes[r].args[0].index();
            let shape = self.shape(arg);
            let mut set = BTreeSet::new();
            // Largest index first: every user of a candidate is decided before the candidate.
            let mut heap = BinaryHeap::from([arg]);
            let mut seen = HashSet::from([arg]);
            while let Some(x) = heap.pop() {
                let fits = self.op(x).is_elementwise()
                    && self.folded[x].is_none()
                    && !self.is_output[x]
                    && self.absorbed[x].is_none()
                    && self.shape(x) == shape
                    && self.users[x].iter().all(|&u| u == r || set.contains(&u));
                if fits {
                    set.insert(x);
                    for a in self.args(x) {
                        if seen.insert(a) {
                            heap.push(a);
                        }
                    }
                }
            }
            for &x in &set {
                self.absorbed[x] = Some(r);
            }
            let mut members: Vec<usize> = set.into_iter().collect();
            members.push(r);
            let mut outside: Vec<usize> =
                members.iter().flat_map(|&m| self.args(m)).filter(|a| !members.contains(a)).collect();
            outside.sort_unstable();
            outside.dedup();
            self.reduce_externals.insert(r, outside);
            self.reduce_members.insert(r, members);
        }
    }

    /// The live group a group id stands for, following merges.
    fn root(&self, mut g: usize) -> usize {
        while let Some(next) = self.merged_into[g] {
            g = next;
        }
        g
    }

    /// The live group of node `x`, if it is in one.
    fn group(&self, x: usize) -> Option<usize> {
        self.group_of[x].map(|g| self.root(g))
    }

    fn unit(&self, x: usize) -> Unit {
        if let Some(g) = self.group(x) {
            Unit::Group(g)
        } else if let Some(r) = self.absorbed[x] {
            Unit::Reduce(r)
        } else if self.is_reduction(x) {
            Unit::Reduce(x)
        } else {
            Unit::Node(self.folded[x].unwrap_or(x))
        }
    }

    /// The operands of a unit that lie outside it.
    fn unit_externals(&self, u: Unit) -> Vec<usize> {
        match u {
            Unit::Node(x) => self.args(x).chain(self.fold_bias(x)).collect(),
            Unit::Group(g) => self.externals[g].clone(),
            Unit::Reduce(r) => self.reduce_externals[&r].clone(),
        }
    }

    /// Whether running the live groups `merged` and the node `extra` as one kernel would put it
    /// on a cycle of kernels.
    fn creates_cycle(&self, merged: &[usize], extra: Option<usize>) -> bool {
        let inside = |a: usize| Some(a) == extra || self.group(a).is_some_and(|g| merged.contains(&g));
        let mut seen: HashSet<Unit> = HashSet::new();
        let mut stack: Vec<Unit> = Vec::new();
        let mut frontier: Vec<usize> = merged.iter().flat_map(|&g| self.externals[g].iter().copied()).collect();
        frontier.extend(extra.into_iter().flat_map(|x| self.args(x)));
        frontier.retain(|&a| !inside(a));
        loop {
            for a in frontier.drain(..) {
                // No unit is skipped for preceding `merged` in node order: a kernel depends on
                // every unit its members read, and such a unit may hold later nodes that read
                // `merged` (a reduction of an early node whose group also consumes `merged`).
                let u = self.unit(a);
                if seen.insert(u) {
                    stack.push(u);
                }
            }
            let Some(u) = stack.pop() else { return false };
            for a in self.unit_externals(u) {
                if inside(a) {
                    return true;
                }
                frontier.push(a);
            }
        }
    }

    /// The operands outside the union of `parts` (node lists), ascending: `inside` tells a member.
    fn boundary(&self, parts: impl IntoIterator<Item = usize>, inside: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut out: Vec<usize> = parts.into_iter().filter(|&a| !inside(a)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Groups the elementwise nodes that no reduction absorbed.
    fn group_elementwise(&mut self) {
        for x in 0..self.g.nodes.len() {
            if !self.op(x).is_elementwise() || self.absorbed[x].is_some() || self.folded[x].is_some() {
                continue;
            }
            let mut taken: Vec<usize> = Vec::new();
            for a in self.args(x) {
                let Some(g) = self.group(a) else { continue };
                if taken.contains(&g) {
                    continue;
                }
                let trial: Vec<usize> = taken.iter().copied().chain([g]).collect();
                if !self.creates_cycle(&trial, Some(x)) {
                    taken.push(g);
                }
            }
            let outside = {
                let inside = |a: usize| a == x || self.group(a).is_some_and(|g| taken.contains(&g));
                let parts = taken.iter().flat_map(|&g| self.externals[g].iter().copied()).chain(self.args(x));
                self.boundary(parts, inside)
            };
            let id = match taken.first() {
                Some(&g) => g,
                None => {
                    self.groups.push(Vec::new());
                    self.externals.push(Vec::new());
                    self.merged_into.push(None);
                    self.groups.len() - 1
                }
            };
            // The surviving group keeps its members and takes the others' (sorted once, below),
            // so a long chain joins in constant time per node.
            for &g in &taken[1.min(taken.len())..] {
                let moved = std::mem::take(&mut self.groups[g]);
                self.groups[id].extend(moved);
                self.externals[g].clear();
                self.merged_into[g] = Some(id);
            }
            self.groups[id].push(x);
            self.group_of[x] = Some(id);
            self.externals[id] = outside;
        }
        for x in 0..self.g.nodes.len() {
            self.group_of[x] = self.group(x);
        }
        for members in &mut self.groups {
            members.sort_unstable();
        }
    }

    /// Merges groups of one shape that read a common operand from memory (the same node, so the
    /// same view), so that it is read once: a max-reduction's gradient mask and the softmax
    /// numerator, say, both read the logits and the row maxima.
    fn merge_siblings(&mut self) {
        // For each operand read from memory, one reading member per group, in group order.
        let mut readers: Vec<Vec<usize>> = vec![Vec::new(); self.g.nodes.len()];
        for (gi, members) in self.groups.iter().enumerate() {
            for &m in members {
                for a in self.args(m) {
                    if self.group_of[a] != Some(gi)
                        && self.reads_memory(a)
                        && !readers[a].iter().any(|&r| self.group_of[r] == Some(gi))
                    {
                        readers[a].push(m);
                    }
                }
            }
        }
        for list in readers {
            let Some((&first, rest)) = list.split_first() else { continue };
            for &m in rest {
                let (Some(target), Some(other)) = (self.group_of[first], self.group_of[m]) else { continue };
                if target == other || self.shape(first) != self.shape(m) {
                    continue;
                }
                if self.creates_cycle(&[target, other], None) {
                    continue;
                }
                let outside = {
                    let inside = |a: usize| self.group_of[a].is_some_and(|g| g == target || g == other);
                    let parts = self.externals[target].iter().chain(&self.externals[other]).copied();
                    self.boundary(parts, inside)
                };
                let mut trial = std::mem::take(&mut self.groups[other]);
                for &x in &trial {
                    self.group_of[x] = Some(target);
                }
                trial.extend_from_slice(&self.groups[target]);
                trial.sort_unstable();
                self.groups[target] = trial;
                self.externals[target] = outside;
                self.externals[other].clear();
            }
        }
    }

    /// Whether reading node `x` reads memory (a view chain that ends in a buffer, not a constant).
    fn reads_memory(&self, x: usize) -> bool {
        match self.op(x).class() {
            Class::Leaf => matches!(self.op(x), Op::Input(_)),
            Class::View => self.reads_memory(self.g.nodes[x].args[0].index()),
            Class::Elementwise | Class::Reduction | Class::CallOut => true,
        }
    }

    fn new_value(&mut self, name: String, ty: Type) -> ValueId {
        self.values.push(Value { name, ty, input: None });
        self.values.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::build::reshape_strides;

    #[test]
    fn reshape_strides_follow_numpy() {
        // Contiguous data reshapes freely.
        assert_eq!(reshape_strides(&[4, 6], &[6, 1], &[2, 2, 6]), Some(vec![12, 6, 1]));
        assert_eq!(reshape_strides(&[2, 3], &[3, 1], &[6]), Some(vec![1]));
        // A broadcast row can gain or split dims but not be flattened.
        assert_eq!(reshape_strides(&[2, 3], &[0, 1], &[2, 1, 3]), Some(vec![0, 3, 1]));
        assert_eq!(reshape_strides(&[2, 6], &[0, 1], &[2, 2, 3]), Some(vec![0, 3, 1]));
        assert_eq!(reshape_strides(&[2, 3], &[0, 1], &[6]), None);
        // A broadcast column flattens when the repeated dims are inner.
        assert_eq!(reshape_strides(&[3, 2, 2], &[1, 0, 0], &[3, 4]), Some(vec![1, 0]));
        // Scalars and empty tensors.
        assert_eq!(reshape_strides(&[1, 1], &[0, 0], &[1]), Some(vec![0]));
        assert_eq!(reshape_strides(&[0, 3], &[3, 1], &[3, 0]), Some(vec![0, 1]));
    }
}
