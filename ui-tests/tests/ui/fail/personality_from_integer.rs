// An op runs with a personality's credentials only as
// `ring.register_personality()` returned it: a bare id is not one.
use uring::ops::Nop;

fn main() {
    let _nop = Nop::new().personality(1u16);
}
