//! `gradc grad`: each parameter's gradient as mathematics, in the program's own names.
//!
//! [`derive`] differentiates the forward graph and optimises the result with every source name
//! (sema's [`crate::sema::Lowered::names`]) pinned as an extra output, so the passes carry each
//! name to the node that holds its value and the pins are then dropped; [`term`] reads the
//! optimised nodes as terms; values used more than once become `let` lines. [`render`] writes
//! the result as text or LaTeX, and [`values`] computes the gradients' numbers.

pub mod errors;
pub mod render;
mod term;
pub mod values;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::diag::Diag;
use crate::driver::Compiled;
use crate::ir::{Graph, NodeId, OutputRole};
use crate::{autodiff, passes};
use term::{Builder, Term, TermId};

/// A `let` line's name: `δ_out` (the gradient flowing into layer `out`), `δ`, `u1`.
#[derive(Debug, Clone, PartialEq)]
pub struct LetName {
    /// The letter: `δ` for a gradient, `u` for a shared forward value.
    pub letter: &'static str,
    /// The subscript: a layer's name or a number.
    pub sub: Option<String>,
}

/// One parameter's gradient.
#[derive(Debug, Clone)]
pub struct Gradient {
    /// The parameter.
    pub param: String,
    /// Its gradient's term.
    term: TermId,
    /// The `let` lines first needed by this gradient, in the order they are printed.
    lets: Vec<usize>,
}

/// Every parameter's gradient, as terms over the program's names.
pub struct Maths {
    /// The loss's name.
    pub loss: String,
    /// Rows per batch, when the loss reads data.
    pub batch: Option<usize>,
    terms: Vec<Term>,
    /// Each `let` line's name and term, in definition order.
    lets: Vec<(LetName, TermId)>,
    /// The `let` each term is, if it is one.
    let_of: HashMap<TermId, usize>,
    /// One per parameter, in input order.
    pub grads: Vec<Gradient>,
}

/// What `gradc grad` is asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only this parameter's gradient.
    pub param: Option<String>,
    /// A LaTeX document instead of text.
    pub latex: bool,
    /// Each gradient's numbers on the first batch, too.
    pub values: bool,
    /// Parameters from this safetensors file instead of their initialisers.
    pub init: Option<std::path::PathBuf>,
    /// Write the gradients' numbers to this safetensors file.
    pub save: Option<std::path::PathBuf>,
    /// Threads for large matrix products.
    pub threads: usize,
}

/// `gradc grad`: the report to print, after writing the values to `--save` if asked.
pub fn command(c: &Compiled, opts: &Options) -> Result<String, Diag> {
    let (maths, backward) = of(c);
    if let Some(p) = &opts.param {
        maths.check_param(p)?;
    }
    let wanted = opts.values || opts.save.is_some();
    if let Some(path) = &opts.save {
        // Before the values are computed, so a bad path costs no work.
        crate::output::check_writable(path).map_err(|e| crate::runtime::errors::checkpoint_unwritable(path, e))?;
    }
    let numbers = if wanted {
        let feed = values::feed(c, &backward, opts.init.as_deref())?;
        let mut v = values::compute(c, &backward, &feed, opts.threads)?;
        if let Some(p) = &opts.param {
            v.retain(|x| x.param == *p);
        }
        if let Some(path) = &opts.save {
            values::save(path, &v)?;
        }
        v
    } else {
        vec![]
    };
    let extra = |param: &str| -> Vec<String> {
        let Some(v) = numbers.iter().find(|v| v.param == param).filter(|_| opts.values) else { return vec![] };
        let s = values::summary(v);
        if opts.latex {
            vec![format!("% value: {s}")]
        } else {
            vec![format!("    value: {s}")]
        }
    };
    Ok(if opts.latex {
        render::latex(&maths, opts.param.as_deref(), &extra)
    } else {
        render::text(&maths, opts.param.as_deref(), &extra)
    })
}

/// The gradients of a compiled program's loss, at its training batch size (before clipping or
/// accumulation, which the train block applies to them), and the graph computing them.
pub fn of(c: &Compiled) -> (Maths, Graph) {
    derive(&c.lowered.forward, &c.lowered.names, c.data.as_ref().map(|_| c.batch))
}

impl Maths {
    /// Checks that `name` is one of the parameters.
    pub fn check_param(&self, name: &str) -> Result<(), Diag> {
        let params: Vec<&str> = self.grads.iter().map(|g| g.param.as_str()).collect();
        if params.contains(&name) {
            Ok(())
        } else {
            Err(errors::unknown_param(name, &params))
        }
    }
}

/// The gradients of `forward`'s loss, and the optimised backward graph they were read from
/// (whose `<param>.grad` outputs compute their values). `names` are sema's source names of
/// forward values; `batch` is the rows per batch, when the loss reads data.
pub fn derive(forward: &Graph, names: &[(NodeId, String)], batch: Option<usize>) -> (Maths, Graph) {
    let mut g = autodiff::backward(forward);
    let first = g.outputs.len();
    for (k, (node, _)) in names.iter().enumerate() {
        g.add_output(&format!("name {k}"), *node, OutputRole::Metric);
    }
    let mut g = passes::optimize(&g);
    let mut table: HashMap<NodeId, String> = HashMap::new();
    for (o, (_, name)) in g.outputs[first..].iter().zip(names) {
        if table.contains_key(&o.node) {
            continue;
        }
        // Two values under one name (a binding of a layer called twice) keep apart.
        let mut name = name.clone();
        while table.values().any(|n| *n == name) {
            name.push('′');
        }
        table.insert(o.node, name);
    }
    g.outputs.truncate(first);
    let loss = g.outputs.iter().find(|o| o.role == OutputRole::Loss).map_or("loss".into(), |o| o.name.clone());
    let mut b = Builder::new(&g, &table, batch);
    let roots: Vec<(String, TermId)> = g
        .outputs
        .iter()
        .filter(|o| o.role == OutputRole::Grad)
        .map(|o| (o.name.trim_end_matches(".grad").to_string(), b.term(o.node)))
        .collect();
    let forward_side = ancestors_of_loss(&g);
    let origin_forward: Vec<bool> = b.origin.iter().map(|n| forward_side[n.index()]).collect();
    let terms = std::mem::take(&mut b.terms);
    let maths = Maths::new(loss, batch, terms, &origin_forward, roots);
    (maths, g)
}

/// Which nodes the loss depends on: the forward pass.
fn ancestors_of_loss(g: &Graph) -> Vec<bool> {
    let mut on = vec![false; g.nodes.len()];
    for o in g.outputs.iter().filter(|o| o.role == OutputRole::Loss) {
        on[o.node.index()] = true;
    }
    for i in (0..g.nodes.len()).rev() {
        if on[i] {
            for a in &g.nodes[i].args {
                on[a.index()] = true;
            }
        }
    }
    on
}

/// Whether a term reads well inline wherever it is used: a name, a number, a function of names.
fn small(terms: &[Term], t: TermId) -> bool {
    let leaf = |u: &TermId| matches!(terms[*u], Term::Name(_) | Term::Num(_));
    match &terms[t] {
        Term::Name(_) | Term::Num(_) => true,
        Term::Softmax(a) | Term::Abs(a) => leaf(a),
        Term::Bracket(a, _, b) => leaf(a) && leaf(b),
        Term::Func(_, args) => args.iter().all(leaf),
        Term::Lin(..)
        | Term::Prod(..)
        | Term::Quot(..)
        | Term::Pow(..)
        | Term::MatMul(..)
        | Term::Sum(..)
        | Term::Max(..)
        | Term::Where(..)
        | Term::Reshape(..) => false,
    }
}

impl Maths {
    /// Chooses the `let` lines (terms used more than once that are not small) and names them.
    fn new(
        loss: String,
        batch: Option<usize>,
        terms: Vec<Term>,
        forward: &[bool],
        roots: Vec<(String, TermId)>,
    ) -> Maths {
        let mut uses = vec![0usize; terms.len()];
        let mut seen = vec![false; terms.len()];
        let mut stack: Vec<TermId> = roots.iter().map(|r| r.1).collect();
        while let Some(t) = stack.pop() {
            if std::mem::replace(&mut seen[t], true) {
                continue;
            }
            for c in terms[t].children() {
                uses[c] += 1;
                stack.push(c);
            }
        }
        for r in &roots {
            uses[r.1] += 1;
        }
        let shared: Vec<bool> = (0..terms.len()).map(|t| uses[t] >= 2 && !small(&terms, t)).collect();

        // Definition order: depth first, operands before users, gradient by gradient.
        let mut order: Vec<TermId> = Vec::new();
        let mut defined = vec![false; terms.len()];
        let mut grads = Vec::new();
        for (param, root) in &roots {
            let before = order.len();
            post_order(&terms, *root, &shared, &mut defined, &mut order);
            grads.push(Gradient { param: param.clone(), term: *root, lets: (before..order.len()).collect() });
        }
        // The parameters whose gradient reads each let directly (not through another let).
        let mut readers: HashMap<TermId, Vec<&str>> = HashMap::new();
        for (param, root) in &roots {
            let mut reached = Vec::new();
            direct_lets(&terms, *root, &shared, true, &mut vec![false; terms.len()], &mut reached);
            for t in reached {
                readers.entry(t).or_default().push(param);
            }
        }
        let names = let_names(&order, &readers, forward);
        let lets: Vec<(LetName, TermId)> = names.into_iter().zip(order.iter().copied()).collect();
        let let_of = lets.iter().enumerate().map(|(i, l)| (l.1, i)).collect();
        Maths { loss, batch, terms, lets, let_of, grads }
    }
}

/// Appends the shared terms under `t` (and `t` itself, if shared) in definition order.
fn post_order(terms: &[Term], t: TermId, shared: &[bool], defined: &mut [bool], order: &mut Vec<TermId>) {
    if defined[t] {
        return;
    }
    defined[t] = true;
    for c in terms[t].children() {
        post_order(terms, c, shared, defined, order);
    }
    if shared[t] {
        order.push(t);
    }
}

/// The shared terms reachable from `t` without passing through another shared term.
fn direct_lets(terms: &[Term], t: TermId, shared: &[bool], top: bool, seen: &mut Vec<bool>, out: &mut Vec<TermId>) {
    if std::mem::replace(&mut seen[t], true) {
        return;
    }
    if shared[t] && !top {
        out.push(t);
        return;
    }
    for c in terms[t].children() {
        direct_lets(terms, c, shared, false, seen, out);
    }
}

/// Names for the lets in `order`: `δ_<layer>` for a gradient that parameters of one layer read
/// directly, `δ` or `δ_<n>` for other gradients, `u_<n>` for shared forward values.
fn let_names(order: &[TermId], readers: &HashMap<TermId, Vec<&str>>, forward: &[bool]) -> Vec<LetName> {
    let layer = |p: &str| p.rsplit_once('.').map(|(l, _)| l.to_string());
    let mut names: Vec<LetName> = Vec::new();
    let gradients = order.iter().filter(|&&t| !forward[t]).count();
    let values = order.len() - gradients;
    let (mut next_grad, mut next_value) = (0, 0);
    for &t in order {
        if forward[t] {
            next_value += 1;
            let sub = (values > 1).then(|| next_value.to_string());
            names.push(LetName { letter: "u", sub });
            continue;
        }
        let layers: Vec<Option<String>> = readers.get(&t).map_or(vec![], |ps| ps.iter().map(|p| layer(p)).collect());
        let own = match layers.first() {
            Some(Some(l)) if layers.iter().all(|m| m.as_deref() == Some(l.as_str())) => Some(l.clone()),
            Some(_) | None => None,
        };
        let taken = |s: &Option<String>| names.iter().any(|n| n.letter == "δ" && n.sub == *s);
        let sub = match own {
            Some(l) if !taken(&Some(l.clone())) => Some(l),
            Some(_) | None if gradients == 1 => None,
            Some(_) | None => loop {
                next_grad += 1;
                let s = Some(next_grad.to_string());
                if !taken(&s) {
                    break s;
                }
            },
        };
        names.push(LetName { letter: "δ", sub });
    }
    names
}
