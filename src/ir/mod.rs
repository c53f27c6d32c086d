//! The graph IR: typed values with static shapes, one op table, a text printer and a
//! reference interpreter (the test oracle).

pub mod elementwise;
pub mod graph;
pub mod interp;
pub mod notation;
pub mod op;
pub mod print;
pub mod roles;
pub mod window;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod window_cases;

pub use elementwise::{BinOp, Rewrite, UnOp};
pub use graph::{Graph, Input, InputRole, Node, NodeId, Output, OutputRole};
pub use op::{Class, Op, ReduceOp, ShapeError, ShapeErrorKind};
pub use roles::{LogKey, Stat, StepInput, StepOutput};
pub use window::{Conv2d, Pool2d, WindowError, WindowOp};

use std::fmt;

/// The shape of a value: its dimensions, outermost first; empty for a scalar.
pub type Shape = Vec<usize>;

/// Element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float: every trainable or computed value.
    F32,
    /// 32-bit signed integer: class labels and argmax results.
    I32,
}

/// The static type of a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Type {
    /// Element type.
    pub dtype: DType,
    /// Dimensions.
    pub shape: Shape,
}

impl Type {
    /// A type from its parts.
    pub fn new(dtype: DType, shape: Shape) -> Type {
        Type { dtype, shape }
    }

    /// A rank-0 type.
    pub fn scalar(dtype: DType) -> Type {
        Type { dtype, shape: vec![] }
    }

    /// An f32 tensor of this shape.
    pub fn f32(shape: Shape) -> Type {
        Type { dtype: DType::F32, shape }
    }

    /// Number of elements (shapes are checked against overflow when built).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::I32 => "i32",
        })
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        write!(f, "{}[{}]", self.dtype, dims.join(","))
    }
}
