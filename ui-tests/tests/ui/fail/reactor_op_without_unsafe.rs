// An op of one's own vouches that its SQE points only to memory it owns:
// implementing `Op` is `unsafe`.
use uring::reactor::{Completion, Op};

struct MyNop;

impl Op for MyNop {
    type Output = ();
    type Sqe<'a> = uring::ops::Nop;

    fn sqe(&mut self) -> uring::ops::Nop {
        uring::ops::Nop::new()
    }

    fn complete(self, _: Completion) {}
}

fn main() {}
