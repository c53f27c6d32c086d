//! The graph: named typed inputs, nodes in topological order, named outputs.

use super::op::{Op, ShapeError};
use super::{DType, Type};

/// Index of a node in `Graph::nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a graph input holds; the runtime binds inputs by role and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputRole {
    /// A batch of features.
    Data,
    /// A batch of labels or regression targets.
    Label,
    /// A trainable parameter.
    Param,
    /// Optimizer state of one parameter (named `<param>.<var>`).
    State,
    /// A non-trainable tensor of the model, such as batch norm's running mean: updated by the
    /// training step in place, read by evaluation, saved in checkpoints.
    Buffer,
    /// The 1-based step counter `t`, an f32 scalar.
    Step,
    /// The gradient of a parameter (named `<param>.grad`), in a standalone update graph.
    Grad,
}

/// A graph input.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// Its name: a data name, a parameter name such as `h1.w`, a state name such as `h1.w.m`.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// What it holds.
    pub role: InputRole,
}

/// What a graph output means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputRole {
    /// The scalar loss.
    Loss,
    /// A scalar metric, e.g. accuracy.
    Metric,
    /// The gradient of the loss with respect to a parameter (named `<param>.grad`).
    Grad,
    /// The new value of the parameter input of the same name.
    Param,
    /// The new value of the state input of the same name.
    State,
    /// The new value of the buffer input of the same name.
    Buffer,
    /// The learning rate used by this step.
    Lr,
    /// Another hyper-parameter a schedule set for this step, named as the optimizer names it
    /// (`momentum`, `beta1`).
    Hyper,
    /// The model's output for each row of the batch (`gradc predict`).
    Prediction,
    /// A gradient-health statistic of the step (`--grad-stats`), named by [`super::Stat::output_name`].
    Stat,
}

impl OutputRole {
    /// Whether the output replaces the input of its name in place: a parameter, optimizer state
    /// or a buffer.
    pub fn in_place(self) -> bool {
        match self {
            OutputRole::Param | OutputRole::State | OutputRole::Buffer => true,
            OutputRole::Loss
            | OutputRole::Metric
            | OutputRole::Grad
            | OutputRole::Lr
            | OutputRole::Hyper
            | OutputRole::Prediction
            | OutputRole::Stat => false,
        }
    }
}

/// A graph output.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Its name (for `Param` and `State`, the name of the input it replaces).
    pub name: String,
    /// The node holding its value.
    pub node: NodeId,
    /// What it means.
    pub role: OutputRole,
}

/// One operation applied to earlier nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The op.
    pub op: Op,
    /// Operands; each refers to an earlier node.
    pub args: Vec<NodeId>,
    /// The result type.
    pub ty: Type,
}

/// A dataflow graph in SSA form; nodes are in topological order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Its name, e.g. `forward` or `train_step`.
    pub name: String,
    /// Inputs; node `Op::Input(i)` reads `inputs[i]`.
    pub inputs: Vec<Input>,
    /// Nodes in topological order.
    pub nodes: Vec<Node>,
    /// Outputs in order.
    pub outputs: Vec<Output>,
}

impl Graph {
    /// An empty graph.
    pub fn new(name: &str) -> Graph {
        Graph { name: name.to_string(), ..Graph::default() }
    }

    /// Declares an input and returns the node that reads it.
    pub fn add_input(&mut self, name: &str, ty: Type, role: InputRole) -> NodeId {
        self.inputs.push(Input { name: name.to_string(), ty: ty.clone(), role });
        self.push_typed(Op::Input(self.inputs.len() - 1), vec![], ty)
    }

    /// Appends a node, inferring its type with the op's shape rule.
    pub fn push(&mut self, op: Op, args: Vec<NodeId>) -> Result<NodeId, ShapeError> {
        let tys: Vec<&Type> = args.iter().map(|&a| &self.nodes[a.index()].ty).collect();
        let ty = op.infer(&tys)?;
        Ok(self.push_typed(op, args, ty))
    }

    /// Appends a node whose type is already known (used by passes that copy nodes).
    pub fn push_typed(&mut self, op: Op, args: Vec<NodeId>, ty: Type) -> NodeId {
        self.nodes.push(Node { op, args, ty });
        NodeId(self.nodes.len() as u32 - 1)
    }

    /// Appends a node the compiler built itself (a VJP rule, a training control); an
    /// ill-typed one is a compiler bug, not a user error.
    pub fn build(&mut self, op: Op, args: Vec<NodeId>) -> NodeId {
        let name = op.name();
        self.push(op, args).unwrap_or_else(|e| panic!("internal compiler error: built an ill-typed `{name}`: {e}"))
    }

    /// The f32 constant `value` at `shape`: a scalar `Const`, broadcast unless `shape` is `[]`.
    pub fn splat(&mut self, value: f64, shape: &[usize]) -> NodeId {
        let c = self.constant(value);
        if shape.is_empty() {
            c
        } else {
            self.build(Op::Broadcast(shape.to_vec()), vec![c])
        }
    }

    /// Appends a scalar f32 constant (its value kept in f64).
    pub fn constant(&mut self, value: f64) -> NodeId {
        self.push_typed(Op::Const(value), vec![], Type::scalar(DType::F32))
    }

    /// Declares an output.
    pub fn add_output(&mut self, name: &str, node: NodeId, role: OutputRole) {
        self.outputs.push(Output { name: name.to_string(), node, role });
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The type of a node.
    pub fn ty(&self, id: NodeId) -> &Type {
        &self.nodes[id.index()].ty
    }

    /// The node that reads input `k` (every input is read by exactly one node; see `verify`).
    pub fn input_node(&self, k: usize) -> NodeId {
        let at = self.nodes.iter().position(|n| n.op == Op::Input(k));
        NodeId(at.unwrap_or_else(|| panic!("input `{}` has no node reading it", self.inputs[k].name)) as u32)
    }

    /// The index of the input with this name.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|i| i.name == name)
    }

    /// The output with this name.
    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// How many nodes use each node as an operand, plus one per output that names it.
    pub fn use_counts(&self) -> Vec<usize> {
        let mut uses = vec![0; self.nodes.len()];
        for node in &self.nodes {
            for a in &node.args {
                uses[a.index()] += 1;
            }
        }
        for o in &self.outputs {
            uses[o.node.index()] += 1;
        }
        uses
    }

    /// Checks the invariants every pass must keep: operands precede their users, arities and
    /// types agree with the op table, each input is read by exactly one `Input` node, output
    /// names are unique and in-place outputs name an input of the same type.
    pub fn verify(&self) -> Result<(), String> {
        let mut input_nodes = vec![0usize; self.inputs.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if node.args.len() != node.op.arity() {
                return Err(format!(
                    "%{i}: `{}` takes {} operands, has {}",
                    node.op.name(),
                    node.op.arity(),
                    node.args.len()
                ));
            }
            if let Some(a) = node.args.iter().find(|a| a.index() >= i) {
                return Err(format!("%{i}: operand %{} does not precede it", a.0));
            }
            if let Op::Input(k) = node.op {
                let input = self.inputs.get(k).ok_or_else(|| format!("%{i}: input {k} does not exist"))?;
                if input.ty != node.ty {
                    return Err(format!("%{i}: input `{}` is {}, node says {}", input.name, input.ty, node.ty));
                }
                input_nodes[k] += 1;
                continue;
            }
            let tys: Vec<&Type> = node.args.iter().map(|&a| self.ty(a)).collect();
            match node.op.infer(&tys) {
                Ok(ty) if ty == node.ty => {}
                Ok(ty) => return Err(format!("%{i}: `{}` gives {ty}, node says {}", node.op.name(), node.ty)),
                Err(e) => return Err(format!("%{i}: {e}")),
            }
        }
        if let Some(k) = input_nodes.iter().position(|&n| n != 1) {
            return Err(format!("input `{}` is read by {} nodes, not one", self.inputs[k].name, input_nodes[k]));
        }
        for (j, o) in self.outputs.iter().enumerate() {
            if o.node.index() >= self.nodes.len() {
                return Err(format!("output `{}` names a missing node", o.name));
            }
            if self.outputs[..j].iter().any(|p| p.name == o.name && p.role == o.role) {
                return Err(format!("output `{}` is declared twice", o.name));
            }
            if o.role.in_place() {
                let ty = self.ty(o.node);
                match self.inputs.iter().find(|i| i.name == o.name) {
                    Some(i) if &i.ty == ty => {}
                    _ => return Err(format!("in-place output `{}` has no input of type {ty}", o.name)),
                }
            }
        }
        Ok(())
    }
}
