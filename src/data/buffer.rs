//! The elements of a dataset's features: its own, or a caller's borrowed without a copy (the
//! Python package's NumPy arrays), copied only when a preprocessing step rewrites them.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Elements a caller keeps alive and unchanged for as long as a [`Buffer`] shares them.
pub trait Elements<T>: Send + Sync {
    /// The elements, in C order.
    fn elements(&self) -> &[T];
}

/// Elements owned, or shared with the caller that lent them; read as a slice.
pub enum Buffer<T: 'static> {
    /// Elements of the dataset's own.
    Owned(Vec<T>),
    /// A caller's elements, read in place.
    Shared(Arc<dyn Elements<T>>),
}

impl<T: Clone + 'static> Buffer<T> {
    /// The elements, to write: a shared buffer is first copied into one of its own.
    pub fn to_mut(&mut self) -> &mut Vec<T> {
        if let Buffer::Shared(shared) = self {
            *self = Buffer::Owned(shared.elements().to_vec());
        }
        match self {
            Buffer::Owned(v) => v,
            Buffer::Shared(_) => unreachable!("replaced by an owned copy just above"),
        }
    }

    /// The elements as a vector of their own (a copy only if they are shared).
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Shared(shared) => shared.elements().to_vec(),
        }
    }

    /// Whether the elements are a caller's, read in place.
    pub fn is_shared(&self) -> bool {
        matches!(self, Buffer::Shared(_))
    }
}

impl<T> Deref for Buffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Shared(shared) => shared.elements(),
        }
    }
}

impl<T> From<Vec<T>> for Buffer<T> {
    fn from(v: Vec<T>) -> Self {
        Buffer::Owned(v)
    }
}

impl<T> FromIterator<T> for Buffer<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Buffer::Owned(iter.into_iter().collect())
    }
}

impl<T: Clone> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        match self {
            Buffer::Owned(v) => Buffer::Owned(v.clone()),
            Buffer::Shared(shared) => Buffer::Shared(Arc::clone(shared)),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: PartialEq> PartialEq for Buffer<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: PartialEq> PartialEq<[T]> for Buffer<T> {
    fn eq(&self, other: &[T]) -> bool {
        **self == *other
    }
}

impl<T: PartialEq, const N: usize> PartialEq<[T; N]> for Buffer<T> {
    fn eq(&self, other: &[T; N]) -> bool {
        **self == other[..]
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for Buffer<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        **self == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Elements lent by a caller.
    struct Lent(Vec<f32>);

    impl Elements<f32> for Lent {
        fn elements(&self) -> &[f32] {
            &self.0
        }
    }

    #[test]
    fn a_shared_buffer_is_read_in_place_and_copied_on_the_first_write() {
        let lent = Arc::new(Lent(vec![1.0, 2.0, 3.0]));
        let mut b: Buffer<f32> = Buffer::Shared(lent.clone());
        assert!(b.is_shared());
        assert_eq!(b.as_ptr(), lent.0.as_ptr(), "read in place");
        assert_eq!(b, [1.0, 2.0, 3.0]);
        b.to_mut()[0] = 9.0;
        assert!(!b.is_shared());
        assert_eq!((b.clone(), lent.0.clone()), (Buffer::Owned(vec![9.0, 2.0, 3.0]), vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn an_owned_buffer_is_written_in_place() {
        let mut b = Buffer::from(vec![1, 2]);
        let before = b.as_ptr();
        b.to_mut()[1] = 5;
        assert_eq!((b.as_ptr(), b.into_vec()), (before, vec![1, 5]));
    }
}
