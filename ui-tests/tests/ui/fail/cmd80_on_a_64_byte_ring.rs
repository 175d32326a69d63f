use uring::ops::UringCmd80;
use uring::{Cmd80, Ring, UringCmdOp};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: (not reached) the command names no memory.
    let (op, cmd) = unsafe { (UringCmdOp::new(0), Cmd80::from_bytes([0; 80])) };
    let _ = unsafe { ring.push_unchecked(UringCmd80::new(&file, op, cmd)) };
}
