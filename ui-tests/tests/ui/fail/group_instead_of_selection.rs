// An op that may select a buffer takes a selection (group and length), not the
// bare group.
use uring::{BufferGroup, ops::Recv};

fn main() {
    let _recv = Recv::new(0, BufferGroup::new(7));
}
