//! Reference interpreter of the graph IR, in f64: the test oracle. `gradc run` never uses it.
