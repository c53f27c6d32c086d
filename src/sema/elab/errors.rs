//! The errors elaboration raises, one constructor each, with their codes as constants; call
//! sites name the error, not its wording. Errors shared with the train checks (`expected`,
//! argument binding, unknown names) live in `sema::errors`.

use crate::diag::suggest::did_you_mean;
use crate::diag::{Diag, Span};
use crate::ir::op::fmt_shape;
use crate::ir::Type;
use crate::sema::errors::{
    CALL_ARGUMENT, CALL_ARITY, CALL_MISSING, NAME_UNKNOWN, SCHEDULE_THEN, TRAIN_GROUP, TRAIN_METRICS,
};
use crate::syntax::ast::{FuncDecl, Ident};

/// A function body that ends without a value.
pub const FUNC_RESULT: &str = "gradc::func::result";
/// `state` outside an optimizer.
pub const STATE_OUTSIDE: &str = "gradc::state::outside";
/// Calls nested too deeply (a function calling itself).
pub const CALL_RECURSION: &str = "gradc::call::recursion";
/// Two values of the training step under one name (a parameter and a loss argument, say).
pub const NAME_CLASH: &str = "gradc::name::clash";
/// A warning: probabilities (softmax or sigmoid outputs) passed to a loss that takes logits.
pub const PROBABILITIES: &str = "gradc::loss::probabilities";
/// An optimizer or schedule called as a function.
pub const CALL_KIND: &str = "gradc::call::kind";
/// A built-in's compile-time argument out of range.
pub const CALL_VALUE: &str = "gradc::call::value";
/// A `fn` that declares parameters.
pub const PARAM_IN_FN: &str = "gradc::param::in_fn";
/// One parameter name declared with two shapes.
pub const PARAM_SHAPE: &str = "gradc::param::shape";
/// An optimizer that declares parameters.
pub const OPTIMIZER_PARAM: &str = "gradc::optimizer::param";
/// An argument that fails a `require` of the function it is given to.
pub const ARGUMENT_REQUIREMENT: &str = "gradc::argument::requirement";
/// A buffer assigned a value of another shape.
pub const BUFFER_SHAPE: &str = "gradc::buffer::shape";
/// An argument that does not fit its formal's declared type.
pub const TYPE_ARGUMENT: &str = "gradc::type::argument";
/// A result that does not fit the declared result type.
pub const TYPE_RESULT: &str = "gradc::type::result";
/// An element type an op does not accept.
pub const TYPE_DTYPE: &str = "gradc::type::dtype";
/// A loss, metric or schedule that is not an f32 scalar.
pub const TYPE_SCALAR: &str = "gradc::type::scalar";
/// A parameter declared with a type other than f32.
pub const TYPE_PARAM: &str = "gradc::type::param";
/// Shapes that do not fit an op, or a named dimension bound to two sizes.
pub const SHAPE_MISMATCH: &str = "gradc::shape::mismatch";
/// Shapes that do not broadcast together.
pub const SHAPE_BROADCAST: &str = "gradc::shape::broadcast";
/// `a @ b` with shapes that do not multiply.
pub const SHAPE_MATMUL: &str = "gradc::shape::matmul";
/// An axis outside the operand's rank.
pub const SHAPE_AXIS: &str = "gradc::shape::axis";
/// A dimension that is not a size, or a tensor too large to index.
pub const SHAPE_TOO_LARGE: &str = "gradc::shape::too_large";
/// A dimension name bound nowhere.
pub const NAME_DIM: &str = "gradc::name::dim";
/// A function named where a value was expected.
pub const NAME_FUNCTION: &str = "gradc::name::function";
/// A loss with more than two parameters.
pub const LOSS_ARITY: &str = "gradc::loss::arity";
/// A schedule on an optimizer without `lr`.
pub const TRAIN_SCHEDULE: &str = "gradc::train::schedule";
/// A record that names a field twice.
pub const RECORD_FIELD: &str = "gradc::record::field";
/// A schedule that sets a hyper-parameter the optimizer does not have.
pub const SCHEDULE_HYPER: &str = "gradc::schedule::hyper";
/// A hyper-parameter a schedule sets, named like a parameter or metric (both are log keys).
pub const SCHEDULE_NAME: &str = "gradc::schedule::name";

const BROADCAST_HELP: &str = "shapes align on the right; each dimension must be equal or 1";

// --- Ops and shapes ----------------------------------------------------------------------------

/// The op table's shape rule rejected the operands at `span`, saying `message`.
pub fn op_shapes(span: Span, message: &str) -> Diag {
    Diag::new(SHAPE_MISMATCH, message).at(span, message).help("check the shapes of the operands")
}

/// The op table's rule rejected an operand's element type at `span`, saying `message`.
pub fn op_dtype(span: Span, message: &str) -> Diag {
    Diag::new(TYPE_DTYPE, message).at(span, message).help("labels are i32; arithmetic needs f32 values")
}

/// The op table's rule rejected an axis at `span`, saying `message`.
pub fn op_axis(span: Span, message: &str) -> Diag {
    Diag::new(SHAPE_AXIS, message).at(span, message).help("axes count from 0; negative axes count from the end")
}

/// The op table's rule found the result at `span` too large, saying `message`.
pub fn op_too_large(span: Span, message: &str) -> Diag {
    Diag::new(SHAPE_TOO_LARGE, message).at(span, message).help("use smaller dimensions")
}

/// Elementwise `op` at `span` given operands of types `a` and `b`, not both f32.
pub fn needs_f32(span: Span, op: &str, a: &Type, b: &Type) -> Diag {
    let msg = format!("`{op}` needs f32 operands, found {a} and {b}");
    Diag::new(TYPE_DTYPE, msg.clone())
        .at(span, msg)
        .help("i32 values are class labels; turn them into f32 rows with one_hot(labels, classes)")
}

/// Operand shapes `a` and `b` at `span` that do not broadcast.
pub fn broadcast(span: Span, a: &[usize], b: &[usize]) -> Diag {
    let msg = format!("cannot broadcast {} with {}", fmt_shape(a), fmt_shape(b));
    Diag::new(SHAPE_BROADCAST, msg.clone()).at(span, msg).help(BROADCAST_HELP)
}

/// `where`'s condition and branches, of shapes `c`, `a` and `b`, at `span`, that do not broadcast.
pub fn broadcast_three(span: Span, c: &[usize], a: &[usize], b: &[usize]) -> Diag {
    let msg = format!("cannot broadcast {}, {} and {} together", fmt_shape(c), fmt_shape(a), fmt_shape(b));
    Diag::new(SHAPE_BROADCAST, msg.clone()).at(span, msg).help(BROADCAST_HELP)
}

/// `a @ b` at `span` with shapes `a` and `b` that do not multiply.
pub fn matmul_shapes(span: Span, a: &[usize], b: &[usize]) -> Diag {
    let msg = format!("cannot multiply {} by {}", fmt_shape(a), fmt_shape(b));
    Diag::new(SHAPE_MATMUL, msg.clone())
        .at(span, msg)
        .help("`a @ b` needs matrices [m, k] and [k, n]: the columns of a must equal the rows of b")
}

/// Axis `axis`, at `span`, outside `0..rank` (and `-rank..0`).
pub fn bad_axis(span: Span, axis: f64, rank: usize) -> Diag {
    Diag::new(SHAPE_AXIS, format!("axis {axis} is out of range for rank {rank}"))
        .at(span, "no such axis")
        .help(format!("axes run from 0 to {} (or -1 for the last)", rank.saturating_sub(1)))
}

/// An index outside its axis.
pub fn bad_index(span: Span, index: f64, len: usize) -> Diag {
    Diag::new(SHAPE_AXIS, format!("index {index} is out of range for an axis of length {len}"))
        .at(span, "no such index")
        .help(format!("indices run from 0 to {} (or -1 for the last)", len.saturating_sub(1)))
}

/// A slice step below 1.
pub fn bad_step(span: Span, step: f64) -> Diag {
    Diag::new(CALL_VALUE, format!("a slice step must be at least 1, found {step}"))
        .at(span, "not a step")
        .help("slices run forward: use `step: 2` for every other element")
}

/// `value`, at `span`, where a dimension is wanted; `help` says what dimensions are.
fn bad_dimension(span: Span, value: f64, help: &str) -> Diag {
    Diag::new(SHAPE_TOO_LARGE, format!("{value} is not a valid dimension")).at(span, "not a size").help(help)
}

/// A dimension in a declared type, at `span`, that is not a whole number below 2^32.
pub fn bad_type_dimension(span: Span, value: f64) -> Diag {
    bad_dimension(span, value, "dimensions are whole numbers below 2^32")
}

/// A dimension in `reshape`'s list, at `span`, that is not a whole number.
pub fn bad_reshape_dimension(span: Span, value: f64) -> Diag {
    bad_dimension(span, value, "dimensions are whole numbers; one may be -1, for what the others leave")
}

/// A declared type, at `span`, whose `shape` has too many elements to index.
pub fn tensor_too_large(span: Span, shape: &[usize]) -> Diag {
    Diag::new(SHAPE_TOO_LARGE, format!("a tensor of shape {} is too large", fmt_shape(shape)))
        .at(span, "too many elements")
        .help("a tensor holds at most 2^31 elements")
}

/// `one_hot`'s class count `classes`, at `span`, that is not a whole number ≥ 1.
pub fn bad_class_count(span: Span, classes: f64) -> Diag {
    Diag::new(CALL_VALUE, format!("{classes} is not a number of classes"))
        .at(span, "not a class count")
        .help("use a whole number of classes ≥ 1")
}

/// `what` ("the loss", "a schedule", ...), at `span`, of type `ty`, not an f32 scalar.
pub fn not_scalar(span: Span, what: &str, ty: &Type) -> Diag {
    Diag::new(TYPE_SCALAR, format!("{what} must be an f32 scalar, found {ty}"))
        .at(span, format!("this is {ty}"))
        .help("reduce it, e.g. with mean(...) or sum(...)")
}

// --- Names -------------------------------------------------------------------------------------

/// `id` names nothing in scope; `names` are those that are visible.
pub fn unknown_name<'a>(id: &Ident, names: impl IntoIterator<Item = &'a str>) -> Diag {
    let otherwise = "declare it before use, or import it with `use std.<module>.<name>`".to_string();
    unknown_name_with(id, did_you_mean(&id.name, names, otherwise))
}

/// `id` names nothing, and reads like a dimension name (`B`, `C`): say how one is bound.
pub fn unknown_dimension_name(id: &Ident) -> Diag {
    let d = &id.name;
    unknown_name_with(
        id,
        format!(
            "`{d}` reads like a dimension: dimensions are bound by a typed argument, as in \
             `loss(x: f32[{d}, 2], y)`, or read from a tensor with `size(x, 0)`"
        ),
    )
}

/// `id` names nothing in the user's file, but stdlib module `module` defines it.
pub fn not_imported(id: &Ident, module: &str) -> Diag {
    let name = &id.name;
    unknown_name_with(id, format!("`{name}` is defined in {module}; add `use {module}.{name}`"))
}

fn unknown_name_with(id: &Ident, help: String) -> Diag {
    Diag::new(NAME_UNKNOWN, format!("unknown name `{}`", id.name)).at(id.span, "not found in this scope").help(help)
}

/// Function `id` used as a value.
pub fn function_as_value(id: &Ident) -> Diag {
    Diag::new(NAME_FUNCTION, format!("`{}` is a function, not a value", id.name))
        .at(id.span, "used as a value")
        .help(format!("call it: `{}(...)`", id.name))
}

/// Dimension name `id` bound by no parameter.
pub fn unknown_dimension(id: &Ident) -> Diag {
    Diag::new(NAME_DIM, format!("unknown dimension `{}`", id.name))
        .at(id.span, "not bound here")
        .help("dimension names are bound by the types of the function's parameters or by `int` parameters")
}

// --- Calls and declarations --------------------------------------------------------------------

/// `decl`'s body ends without a value.
pub fn no_result(decl: &FuncDecl) -> Diag {
    Diag::new(FUNC_RESULT, format!("`{}` has no result expression", decl.name.name))
        .at(decl.name.span, "returns nothing")
        .help("end the body with the value to return")
}

/// `state` at `span`, outside an optimizer.
pub fn state_outside_optimizer(span: Span) -> Diag {
    Diag::new(STATE_OUTSIDE, "`state` is only allowed in an optimizer")
        .at(span, "not in an optimizer")
        .help("declare trainable values with `param`")
}

/// A warning: the argument at `arg` of the loss `callee`, which takes logits, is the output of
/// `squash` (softmax or sigmoid).
pub fn probabilities_as_logits(arg: Span, callee: &str, squash: &str) -> Diag {
    let applies = if squash == "softmax" { "log_softmax" } else { "the sigmoid" };
    Diag::new(PROBABILITIES, format!("`{callee}` takes logits, and this is the output of `{squash}`"))
        .at(arg, format!("already passed through `{squash}`"))
        .help(format!(
            "pass the logits themselves: `{callee}` applies {applies} itself, so `{squash}` here is applied twice and trains to a worse loss"
        ))
        .as_warning()
}

/// The parameter declared at `span` is named `name`, as the graph input of `role` (a loss
/// argument) already is.
pub fn param_named_like_input(span: Span, name: &str, role: crate::ir::InputRole) -> Diag {
    let what = match role {
        crate::ir::InputRole::Data => "the loss's features argument",
        crate::ir::InputRole::Label => "the loss's labels argument",
        crate::ir::InputRole::Param => "another parameter",
        crate::ir::InputRole::Buffer => "a buffer",
        crate::ir::InputRole::Grad | crate::ir::InputRole::State | crate::ir::InputRole::Step => {
            "a value of the training step"
        }
    };
    Diag::new(NAME_CLASH, format!("the parameter `{name}` has the name of {what}"))
        .at(span, "declared here")
        .help(format!("rename the parameter or the loss's argument: inside the loss, `{name}` is the data"))
}

/// Optimizer state `state` of parameter `param` has the name of another parameter or buffer.
pub fn state_named_like_param(span: Span, state: &str, param: &str) -> Diag {
    Diag::new(NAME_CLASH, format!("the optimizer's state `{state}` of `{param}` has the name of a parameter or buffer"))
        .at(span, "this optimizer's state")
        .help(format!("rename the parameter `{state}` (a nested layer's binding, say): optimizer state is named `{param}.<state>`"))
}

/// The call at `call` nests more than 64 calls deep, in `callee`.
pub fn recursion(call: Span, callee: &str) -> Diag {
    Diag::new(CALL_RECURSION, format!("calls nest too deeply in `{callee}`"))
        .at(call, "nested more than 64 calls deep")
        .help("functions cannot call themselves; .grad has no recursion")
}

/// Optimizer or schedule `callee` called, at `call`, outside the train block.
pub fn train_only(call: Span, callee: &str) -> Diag {
    Diag::new(CALL_KIND, format!("`{callee}` can only be used in the train block"))
        .at(call, "not callable here")
        .help("set it in the train block, e.g. `optimizer = adam(lr: 1e-3)`")
}

/// A call to `callee` (taking `count` arguments) whose argument at `span` is one too many;
/// `help` says where its parameters are.
fn too_many(span: Span, callee: &str, count: usize, help: String) -> Diag {
    Diag::new(CALL_ARITY, format!("`{callee}` takes {count} arguments")).at(span, "one too many").help(help)
}

/// A call to `decl` whose argument at `span` is one too many.
pub fn too_many_arguments(span: Span, decl: &FuncDecl) -> Diag {
    let callee = &decl.name.name;
    too_many(span, callee, decl.params.len(), format!("see the declaration of `{callee}`"))
}

/// A call to built-in `callee` whose argument at `span` is past its `formals`.
pub fn too_many_builtin_arguments(span: Span, callee: &str, formals: &[&str]) -> Diag {
    too_many(span, callee, formals.len(), format!("its parameters are {}", quoted(formals)))
}

/// A named argument built-in `callee` (with `formals`) does not have.
pub fn unknown_builtin_argument(callee: &str, name: &Ident, formals: &[&str]) -> Diag {
    Diag::new(CALL_ARGUMENT, format!("`{callee}` has no parameter named `{}`", name.name))
        .at(name.span, "unknown argument")
        .help(format!("its parameters are {}", quoted(formals)))
}

/// The call to `callee` at `call` gives no value for `formal`, which has no default.
pub fn missing_argument(call: Span, callee: &str, formal: &str) -> Diag {
    Diag::new(CALL_MISSING, format!("`{callee}` needs a value for `{formal}`"))
        .at(call, format!("`{formal}` is not given"))
        .help(format!("pass `{formal}: ...`"))
}

/// Argument `formal` of `callee`, `found` at `span`, where its type (declared at `declared`)
/// wants `want`.
pub fn argument_type(span: Span, declared: Span, callee: &str, formal: &str, want: &str, found: &str) -> Diag {
    Diag::new(TYPE_ARGUMENT, format!("argument `{formal}` of `{callee}` must be {want}, found {found}"))
        .at(span, format!("expected {want}"))
        .note(declared, "declared here")
        .help(format!("pass {want} as `{formal}`"))
}

/// Dimension `dim` of `callee`'s formals, `bound` by an earlier argument, is `actual` at `span`.
pub fn dimension_mismatch(span: Span, dim: &str, callee: &str, bound: f64, actual: usize) -> Diag {
    let msg = format!("`{dim}` is {bound} from an earlier argument of `{callee}`, but {actual} here");
    Diag::new(SHAPE_MISMATCH, msg.clone())
        .at(span, msg)
        .help("the arguments' shapes must agree on each named dimension")
}

/// `callee`, called at `call`, returns `found` where its type (declared at `declared`) is `want`.
pub fn result_type(call: Span, declared: Span, callee: &str, found: &str, want: &Type) -> Diag {
    Diag::new(TYPE_RESULT, format!("`{callee}` returns {found}, but declares {want}"))
        .at(call, format!("declared to return {want}"))
        .note(declared, "declared here")
        .help("fix the body or the declared result type")
}

/// A parameter, at `span`, declared in a `fn`.
pub fn param_in_fn(span: Span) -> Diag {
    Diag::new(PARAM_IN_FN, "a `fn` cannot declare parameters")
        .at(span, "parameter in a fn")
        .help("make it a `layer` so its parameters get an instance name")
}

/// A `require(cond, message)` at `span` whose condition is false.
pub fn requirement(span: Span, message: &str) -> Diag {
    Diag::new(ARGUMENT_REQUIREMENT, message.to_string())
        .at(span, "this requirement does not hold")
        .help("change the argument the message names")
}

/// Buffer `name` of `shape` assigned, at `span`, a value of shape `found`.
pub fn buffer_shape(span: Span, name: &str, shape: &[usize], found: &[usize]) -> Diag {
    Diag::new(
        BUFFER_SHAPE,
        format!("buffer `{name}` is {} but is assigned a {} value", fmt_shape(shape), fmt_shape(found)),
    )
    .at(span, format!("this is {}", fmt_shape(found)))
    .help("a buffer keeps its declared shape; reduce or reshape the new value to it")
}

/// A parameter, at `span`, declared in an optimizer.
pub fn param_in_optimizer(span: Span) -> Diag {
    Diag::new(OPTIMIZER_PARAM, "an optimizer cannot declare parameters")
        .at(span, "parameter in an optimizer")
        .help("use `state` for per-parameter optimizer state")
}

/// A parameter whose declared type, at `span`, is not f32.
pub fn param_not_f32(span: Span) -> Diag {
    Diag::new(TYPE_PARAM, "parameters are f32").at(span, "not f32").help("declare it as f32[...]")
}

/// Parameter `name` declared at `span` with `shape`, and earlier at `prev` with `prev_shape`.
pub fn param_two_shapes(span: Span, prev: Span, name: &str, shape: &[usize], prev_shape: &[usize]) -> Diag {
    Diag::new(PARAM_SHAPE, format!("parameter `{name}` is used with two shapes"))
        .at(span, format!("here it is {}", fmt_shape(shape)))
        .note(prev, format!("here it is {}", fmt_shape(prev_shape)))
        .help("a parameter name is shared by every call that produces it; give the calls different names")
}

// --- The loss, metrics and the update ----------------------------------------------------------

/// A loss with more than two parameters, the extra ones at `span`.
pub fn loss_arity(span: Span) -> Diag {
    Diag::new(LOSS_ARITY, "a loss takes at most two parameters: features and labels")
        .at(span, "too many parameters")
        .help("write `loss(x, y) = ...`")
}

/// A metric, named at `span`, where the loss takes no labels.
pub fn metrics_without_labels(span: Span) -> Diag {
    Diag::new(TRAIN_METRICS, "metrics need data with labels")
        .at(span, "needs labels")
        .help("give the loss two parameters, `loss(x, y)`, and data with a label column")
}

/// The metric `name` at `span` takes class labels, and the data has regression targets of `ty`.
pub fn metric_needs_classes(span: Span, name: &str, ty: &Type) -> Diag {
    let dims: Vec<String> = ty.shape.iter().skip(1).map(usize::to_string).collect();
    let targets = format!("f32[{}]", ["B".to_string()].into_iter().chain(dims).collect::<Vec<_>>().join(", "));
    Diag::new(
        TRAIN_METRICS,
        format!("`{name}` needs class labels (i32), and this data has regression targets {targets}"),
    )
    .at(span, "a classification metric")
    .help("drop it for a regression; the final loss is the regression's score (and `mse`/`mae` can be the loss)")
}

/// A schedule on `optimizer`, used at `span`, which has no `lr`.
pub fn schedule_without_lr(span: Span, optimizer: &str) -> Diag {
    Diag::new(TRAIN_SCHEDULE, format!("`{optimizer}` has no `lr` for a schedule to drive"))
        .at(span, "this optimizer has no `lr`")
        .help("remove the schedule, or give the optimizer an `lr` parameter")
}

/// Field `name` of a record, given before at `first`.
pub fn field_twice(name: &Ident, first: Span) -> Diag {
    Diag::new(RECORD_FIELD, format!("`{}` is given twice", name.name))
        .at(name.span, "given again here")
        .note(first, "first given here")
        .help("give each field once")
}

/// Schedule `schedule`, used at `span`, sets `name`, which `optimizer` (with hyper-parameters
/// `hypers`) does not have; `flag` is the schedule's switch for it (`cycle_momentum`), if any.
pub fn schedule_sets_unknown(
    span: Span,
    schedule: &str,
    name: &str,
    optimizer: &str,
    hypers: &[&str],
    flag: Option<&str>,
) -> Diag {
    // `momentum` reaches an optimizer without one as `beta1` (`hyper_target`).
    let wanted = if name == "momentum" { "neither `momentum` nor `beta1`".to_string() } else { format!("no `{name}`") };
    let help = match flag {
        Some(flag) => format!(
            "pass `{flag}: false` to `{schedule}` to leave it alone, or use an optimizer that has {}",
            if name == "momentum" { "`momentum` or `beta1`".to_string() } else { format!("`{name}`") }
        ),
        None => format!("a schedule may set only the optimizer's hyper-parameters: {}", quoted(hypers)),
    };
    Diag::new(SCHEDULE_HYPER, format!("`{schedule}` sets `{name}`, but `{optimizer}` has {wanted}"))
        .at(span, format!("sets `{name}`"))
        .help(help)
}

/// Hyper-parameter `name`, which the schedule at `span` sets, is also the name of a `what`
/// (a parameter, a metric): the log would have the key twice.
pub fn scheduled_name_taken(span: Span, name: &str, what: &str) -> Diag {
    Diag::new(SCHEDULE_NAME, format!("the schedule sets `{name}`, which also names a {what}"))
        .at(span, format!("logs `{name}` each step"))
        .help(format!("rename the {what}: the training log records both under `{name}`"))
}

/// A parameter group, at `span`, whose `pattern` matches none of `params`.
pub fn group_matches_nothing(span: Span, pattern: &str, params: &[&str]) -> Diag {
    Diag::new(TRAIN_GROUP, format!("the pattern \"{pattern}\" matches no parameter"))
        .at(span, "matches nothing")
        .help(format!("the parameters are {}", params.join(", ")))
}

/// `then` at `span`, outside a train block's `schedule`.
pub fn then_outside_schedule(span: Span) -> Diag {
    Diag::new(SCHEDULE_THEN, "`then` composes schedules, and only in a train block's `schedule`")
        .at(span, "not a schedule composition")
        .help("write e.g. `schedule = warmup(steps: 100) then cosine(total: 900)` in the train block")
}

/// `names` for a help line: "`a`, `b`".
fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// A window attribute (`stride`, `kernel`, ...) of `callee`, at `span`, that is not a whole
/// number of at least `min`, or a pair `[rows, columns]` of them.
pub fn bad_window_attribute(span: Span, callee: &str, attribute: &str, min: usize) -> Diag {
    Diag::new(CALL_VALUE, format!("`{attribute}` of `{callee}` must be a whole number ≥ {min} or a pair of them"))
        .at(span, "not a valid size")
        .help(format!(
            "write e.g. `{attribute}: {}` or `{attribute}: [{}, {}]`",
            min.max(1),
            min.max(1),
            min.max(1) + 1
        ))
}

/// `padding: same` of a convolution with a stride other than 1, at `span`.
pub fn same_padding_stride(span: Span) -> Diag {
    Diag::new(CALL_VALUE, "`padding: same` needs a stride of 1")
        .at(span, "the output would not keep the input's size")
        .help("give the padding as a number, or use stride 1")
}
