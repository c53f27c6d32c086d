//! Building kernels from the fused groups: kernel bodies, views resolved to strided loads,
//! materialised operands, and the schedule.

use super::epilogue::{Fold, Folded};
use super::{Fuser, Resolved};
use crate::codegen::kernel::{
    row_major, Elementwise, Epilogue, Expr, ExprId, Kernel, MatMul, Program, ProgramOutput, Reduce, ValueId,
};
use crate::codegen::CodegenError;
use crate::ir::{Class, Op};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

/// The body expression for an elementwise op applied to `args`.
pub(super) fn apply(op: &Op, args: &[ExprId]) -> Result<Expr, CodegenError> {
    match op {
        Op::Unary(u) => Ok(Expr::Unary(*u, args[0])),
        Op::Binary(b) => Ok(Expr::Binary(*b, args[0], args[1])),
        Op::Select => Ok(Expr::Select(args[0], args[1], args[2])),
        Op::Cast(to) => Ok(Expr::Cast(*to, args[0])),
        Op::Input(_)
        | Op::Const(_)
        | Op::Broadcast(_)
        | Op::Reshape(_)
        | Op::Permute(_)
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Gather
        | Op::ScatterAdd(_)
        | Op::Rand { .. }
        | Op::AllSum
        | Op::Reduce(..)
        | Op::MatMul { .. }
        | Op::OneHot(_)
        | Op::Argmax(_)
        | Op::Window(_) => Err(CodegenError::Internal(format!("`{}` inside an elementwise kernel", op.name()))),
    }
}

/// Strides that read `old` (with strides `strides`) as shape `new` without a copy, if any exist.
///
/// numpy's no-copy reshape: each run of new dims must map onto a run of old dims that is
/// contiguous with respect to the old strides.
pub(super) fn reshape_strides(old: &[usize], strides: &[usize], new: &[usize]) -> Option<Vec<usize>> {
    if old.iter().product::<usize>() == 0 {
        return Some(row_major(new));
    }
    let (od, os): (Vec<usize>, Vec<usize>) =
        old.iter().zip(strides).filter(|(&d, _)| d != 1).map(|(&d, &s)| (d, s)).unzip();
    let mut out = vec![0; new.len()];
    let (mut oi, mut ni) = (0, 0);
    while ni < new.len() && oi < od.len() {
        let (mut nj, mut oj) = (ni + 1, oi + 1);
        let (mut np, mut op) = (new[ni], od[oi]);
        while np != op {
            if np < op {
                np *= new[nj];
                nj += 1;
            } else {
                op *= od[oj];
                oj += 1;
            }
        }
        if (oi..oj - 1).any(|k| os[k] != od[k + 1] * os[k + 1]) {
            return None;
        }
        out[nj - 1] = os[oj - 1];
        for k in (ni + 1..nj).rev() {
            out[k - 1] = out[k] * new[k];
        }
        ni = nj;
        oi = oj;
    }
    Some(out)
}

/// Orders kernels topologically (ties by priority); an error if the kernel graph has a cycle.
pub(super) fn schedule(kernels: Vec<(usize, Kernel)>, n_values: usize) -> Result<Vec<Kernel>, CodegenError> {
    let mut producer = vec![None; n_values];
    for (i, (_, k)) in kernels.iter().enumerate() {
        for v in k.writes() {
            producer[v] = Some(i);
        }
    }
    let mut consumers = vec![Vec::new(); kernels.len()];
    let mut pending = vec![0usize; kernels.len()];
    for (i, (_, k)) in kernels.iter().enumerate() {
        let deps: BTreeSet<usize> = k.reads().into_iter().filter_map(|v| producer[v]).collect();
        pending[i] = deps.len();
        for d in deps {
            consumers[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> =
        (0..kernels.len()).filter(|&i| pending[i] == 0).map(|i| Reverse((kernels[i].0, i))).collect();
    let mut order = Vec::with_capacity(kernels.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &c in &consumers[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.push(Reverse((kernels[c].0, c)));
            }
        }
    }
    if order.len() != kernels.len() {
        return Err(CodegenError::Internal("fusion produced a cycle between kernels".into()));
    }
    let mut slots: Vec<Option<Kernel>> = kernels.into_iter().map(|(_, k)| Some(k)).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

impl Fuser<'_> {
    /// Builds every kernel and schedules them.
    pub(super) fn build(mut self) -> Result<Program, CodegenError> {
        let n = self.g.nodes.len();
        // Values for every node a kernel writes, in node order so that names read in order.
        for x in 0..n {
            let materialised = match self.op(x).class() {
                Class::Leaf | Class::View => false,
                Class::CallOut => !self.folds.contains_key(&x),
                Class::Reduction => true,
                Class::Elementwise if self.absorbed[x].is_some() => false,
                Class::Elementwise if self.folded[x].is_some() => self.folds.values().any(|f| f.last == x),
                // A folded user reads nothing: its window kernel reads the window node's operands.
                Class::Elementwise => {
                    self.is_output[x]
                        || self.users[x]
                            .iter()
                            .any(|&u| self.folded[u].is_none() && self.group_of[u] != self.group_of[x])
                }
            };
            if materialised {
                self.value_of[x] = Some(self.new_value(self.names[x].clone(), self.g.nodes[x].ty.clone()));
            }
        }
        for gi in 0..self.groups.len() {
            if self.groups[gi].is_empty() {
                continue;
            }
            let members = self.groups[gi].clone();
            let (body, map) = self.body(&members)?;
            let outputs = members.iter().filter_map(|m| self.value_of[*m].map(|v| (map[m], v))).collect();
            let shape = self.shape(members[0]).clone();
            self.kernels.push((members[0], Kernel::Elementwise(Elementwise { shape, body, outputs })));
        }
        for x in 0..n {
            let kernel = match self.op(x) {
                Op::Reduce(kind, axes) => {
                    let members = self.reduce_members[&x].clone();
                    let (mut body, map) = self.body(&members[..members.len() - 1])?;
                    let arg = self.g.nodes[x].args[0].index();
                    let root = match map.get(&arg) {
                        Some(&e) => e,
                        None => {
                            body.push(self.leaf(arg)?);
                            body.len() - 1
                        }
                    };
                    let out = self.value(x)?;
                    let shape = self.shape(arg).clone();
                    Kernel::Reduce(Reduce { shape, axes: axes.clone(), kind: *kind, body, root, out })
                }
                Op::MatMul { ta, tb } => {
                    let (a, b) = (self.g.nodes[x].args[0].index(), self.g.nodes[x].args[1].index());
                    let k = if *ta { self.shape(a)[0] } else { self.shape(a)[1] };
                    let (m, nn) = (self.shape(x)[0], self.shape(x)[1]);
                    let (a, b) = (self.contiguous(a)?, self.contiguous(b)?);
                    Kernel::MatMul(MatMul { a, b, ta: *ta, tb: *tb, m, n: nn, k, out: self.value(x)? })
                }
                Op::OneHot(classes) => {
                    let labels = self.contiguous(self.g.nodes[x].args[0].index())?;
                    Kernel::OneHot { labels, classes: *classes, out: self.value(x)? }
                }
                Op::Argmax(axis) => {
                    let operand = self.contiguous(self.g.nodes[x].args[0].index())?;
                    Kernel::Argmax { x: operand, axis: *axis, out: self.value(x)? }
                }
                Op::Window(op) => {
                    let nodes = self.g.nodes[x].args.clone();
                    let args = nodes.iter().map(|a| self.contiguous(a.index())).collect::<Result<_, _>>()?;
                    let shapes = nodes.iter().map(|a| self.shape(a.index()).clone()).collect();
                    let (epilogue, last) = match self.folds.get(&x).copied() {
                        None => (Epilogue::None, x),
                        Some(Fold { what: Folded::ReluMask, last }) => (Epilogue::ReluMask, last),
                        Some(Fold { what: Folded::Conv { bias, relu }, last }) => {
                            let bias = bias.map(|b| self.value(b)).transpose()?;
                            (Epilogue::Conv { bias, relu }, last)
                        }
                    };
                    Kernel::Window { op: *op, args, shapes, epilogue, out: self.value(last)? }
                }
                Op::Input(_) | Op::Const(_) | Op::Unary(_) | Op::Binary(_) | Op::Select | Op::Cast(_) => continue,
                Op::Concat { axis, .. } => {
                    let shape = self.shape(x);
                    let outer = shape[..*axis].iter().product();
                    let mut parts = Vec::new();
                    for a in self.g.nodes[x].args.clone() {
                        let len = self.shape(a.index())[*axis..].iter().product();
                        parts.push((self.contiguous(a.index())?, len));
                    }
                    Kernel::Concat { parts, outer, out: self.value(x)? }
                }
                Op::Gather | Op::ScatterAdd(_) => {
                    let [a, b] = [0, 1].map(|i| self.g.nodes[x].args[i].index());
                    let scatter = matches!(self.op(x), Op::ScatterAdd(_));
                    let (src, ids) = if scatter { (b, a) } else { (a, b) };
                    let table = if scatter { self.shape(x) } else { self.shape(src) };
                    let (rows, row) = (table[0], table[1..].iter().product());
                    let (src, ids) = (self.contiguous(src)?, self.contiguous(ids)?);
                    Kernel::Gather { src, ids, rows, row, scatter, out: self.value(x)? }
                }
                Op::Rand { key, first, .. } => {
                    let words = self.contiguous(self.g.nodes[x].args[0].index())?;
                    Kernel::Rand { key: *key, first: *first, words, out: self.value(x)? }
                }
                Op::AllSum => {
                    let src = self.contiguous(self.g.nodes[x].args[0].index())?;
                    let seq = self.g.nodes[..x].iter().filter(|n| n.op == Op::AllSum).count();
                    Kernel::AllSum { seq, src, out: self.value(x)? }
                }
                Op::Broadcast(_) | Op::Reshape(_) | Op::Permute(_) | Op::Slice { .. } => continue,
            };
            let prio = if self.is_reduction(x) { self.reduce_members[&x][0] } else { x };
            self.kernels.push((prio, kernel));
        }
        let mut outputs = Vec::new();
        for o in &self.g.outputs {
            let x = o.node.index();
            let value = match self.op(x) {
                Op::Input(k) if o.role.in_place() && self.g.inputs[*k].name == o.name => *k,
                Op::Input(k) => self.copy_of_input(*k, x),
                Op::Window(_) => self.value(x)?,
                Op::Const(_) | Op::Broadcast(_) | Op::Reshape(_) | Op::Permute(_) | Op::Slice { .. } => {
                    self.materialise(x)?
                }
                Op::Concat { .. } | Op::Gather | Op::ScatterAdd(_) | Op::Rand { .. } | Op::AllSum => self.value(x)?,
                Op::Unary(_) | Op::Binary(_) | Op::Select | Op::Reduce(..) | Op::Cast(_) => self.value(x)?,
                Op::MatMul { .. } | Op::OneHot(_) | Op::Argmax(_) => self.value(x)?,
            };
            outputs.push(ProgramOutput { name: o.name.clone(), role: o.role, value });
        }
        // Kernels that compute a parameter or state update run as late as their users allow, so
        // that they tend to be the last reader of the input they replace (then memplan can
        // write the update in place).
        let updates: HashSet<ValueId> = outputs.iter().filter(|o| o.role.in_place()).map(|o| o.value).collect();
        let late = self.g.nodes.len();
        let kernels = self
            .kernels
            .into_iter()
            .map(|(prio, k)| (if k.writes().iter().any(|v| updates.contains(v)) { late + prio } else { prio }, k))
            .collect();
        let kernels = schedule(kernels, self.values.len())?;
        Ok(Program { name: self.g.name.clone(), values: self.values, kernels, outputs })
    }

    pub(super) fn value(&self, x: usize) -> Result<ValueId, CodegenError> {
        self.value_of[x].ok_or_else(|| CodegenError::Internal(format!("node {} has no buffer", self.names[x])))
    }

    /// The body of a kernel made of `members` (ascending); operands outside it become leaves.
    pub(super) fn body(&mut self, members: &[usize]) -> Result<(Vec<Expr>, HashMap<usize, ExprId>), CodegenError> {
        let mut body = Vec::new();
        let mut map: HashMap<usize, ExprId> = HashMap::new();
        for &m in members {
            let mut args = Vec::new();
            for a in self.args(m) {
                let e = match map.get(&a) {
                    Some(&e) => e,
                    None => {
                        let leaf = self.leaf(a)?;
                        body.push(leaf);
                        map.insert(a, body.len() - 1);
                        body.len() - 1
                    }
                };
                args.push(e);
            }
            body.push(apply(self.op(m), &args)?);
            map.insert(m, body.len() - 1);
        }
        Ok((body, map))
    }

    /// The leaf expression reading node `x` (outside the kernel) at the kernel's iteration index.
    pub(super) fn leaf(&mut self, x: usize) -> Result<Expr, CodegenError> {
        Ok(match self.resolve(x)? {
            Resolved::Const(c) => Expr::Const(c),
            Resolved::Strided(value, strides, offset) => Expr::Load { value, strides, offset },
        })
    }

    /// Follows a chain of views down to a constant or a buffer with strides over `x`'s shape.
    pub(super) fn resolve(&mut self, x: usize) -> Result<Resolved, CodegenError> {
        match self.op(x) {
            Op::Const(c) => Ok(Resolved::Const(*c)),
            Op::Broadcast(to) => {
                let a = self.g.nodes[x].args[0].index();
                Ok(match self.resolve(a)? {
                    Resolved::Const(c) => Resolved::Const(c),
                    Resolved::Strided(v, s, offset) => {
                        let from = self.shape(a);
                        let lead = to.len() - from.len();
                        let strides = (0..to.len())
                            .map(|i| if i < lead || from[i - lead] == 1 { 0 } else { s[i - lead] })
                            .collect();
                        Resolved::Strided(v, strides, offset)
                    }
                })
            }
            Op::Reshape(to) => {
                let a = self.g.nodes[x].args[0].index();
                Ok(match self.resolve(a)? {
                    Resolved::Const(c) => Resolved::Const(c),
                    Resolved::Strided(v, s, offset) => match reshape_strides(self.shape(a), &s, to) {
                        Some(strides) => Resolved::Strided(v, strides, offset),
                        None => Resolved::Strided(self.materialise(a)?, row_major(to), 0),
                    },
                })
            }
            Op::Window(_) => self.buffer(x),
            Op::Permute(perm) => {
                let a = self.g.nodes[x].args[0].index();
                Ok(match self.resolve(a)? {
                    Resolved::Const(c) => Resolved::Const(c),
                    Resolved::Strided(v, s, offset) => {
                        Resolved::Strided(v, perm.iter().map(|&p| s[p]).collect(), offset)
                    }
                })
            }
            Op::Slice { axis, start, step, .. } => {
                let a = self.g.nodes[x].args[0].index();
                Ok(match self.resolve(a)? {
                    Resolved::Const(c) => Resolved::Const(c),
                    Resolved::Strided(v, mut s, offset) => {
                        let offset = offset + start * s[*axis];
                        s[*axis] *= step;
                        Resolved::Strided(v, s, offset)
                    }
                })
            }
            Op::Input(_) | Op::Unary(_) | Op::Binary(_) | Op::Select | Op::Reduce(..) | Op::Cast(_) => self.buffer(x),
            Op::MatMul { .. } | Op::OneHot(_) | Op::Argmax(_) | Op::Concat { .. } | Op::Gather | Op::ScatterAdd(_) => {
                self.buffer(x)
            }
            Op::Rand { .. } | Op::AllSum => self.buffer(x),
        }
    }

    /// Node `x`'s own buffer, read densely.
    pub(super) fn buffer(&mut self, x: usize) -> Result<Resolved, CodegenError> {
        Ok(Resolved::Strided(self.value(x)?, row_major(self.shape(x)), 0))
    }

    /// A contiguous buffer holding node `x`, materialising views that are not contiguous.
    pub(super) fn contiguous(&mut self, x: usize) -> Result<ValueId, CodegenError> {
        // A call-out reads from the buffer's start, so a view with an offset is copied.
        if let Resolved::Strided(v, s, 0) = self.resolve(x)? {
            let shape = self.shape(x);
            let dense = row_major(shape);
            if (0..shape.len()).all(|i| shape[i] == 1 || s[i] == dense[i]) {
                return Ok(v);
            }
        }
        self.materialise(x)
    }

    /// A buffer holding node `x` (a constant or a view), written by a copy kernel.
    pub(super) fn materialise(&mut self, x: usize) -> Result<ValueId, CodegenError> {
        if let Some(v) = self.value_of[x] {
            return Ok(v);
        }
        let leaf = self.leaf(x)?;
        let name =
            if let Op::Const(_) = self.op(x) { format!("const {}", self.names[x]) } else { self.names[x].clone() };
        let v = self.new_value(name, self.g.nodes[x].ty.clone());
        self.value_of[x] = Some(v);
        let shape = self.shape(x).clone();
        self.kernels.push((x, Kernel::Elementwise(Elementwise { shape, body: vec![leaf], outputs: vec![(0, v)] })));
        Ok(v)
    }

    /// A copy of input `k` (read by node `x`), for an output that names an input.
    pub(super) fn copy_of_input(&mut self, k: usize, x: usize) -> ValueId {
        if let Some(&v) = self.input_copy.get(&k) {
            return v;
        }
        let ty = self.g.inputs[k].ty.clone();
        let v = self.new_value(format!("copy {}", self.g.inputs[k].name), ty.clone());
        self.input_copy.insert(k, v);
        let body = vec![Expr::Load { value: k, strides: row_major(&ty.shape), offset: 0 }];
        self.kernels.push((x, Kernel::Elementwise(Elementwise { shape: ty.shape, body, outputs: vec![(0, v)] })));
        v
    }
}
