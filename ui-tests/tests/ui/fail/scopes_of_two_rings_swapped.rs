// Each scope is its own type (its lifetime is invariant and fresh): two
// scopes, even of two rings nested one in the other, cannot be swapped, so no
// op lent to one scope can be waited for by the other.
use uring::Ring;

fn main() {
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    a.scope(|sa| b.scope(|sb| std::mem::swap(sa, sb)));
}
