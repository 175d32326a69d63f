// Raw bits are not flags: they could be any of the type-owned ones.
use uring::ops::Nop;

fn main() {
    let _nop = Nop::new().flags(1u8 << 2);
}
