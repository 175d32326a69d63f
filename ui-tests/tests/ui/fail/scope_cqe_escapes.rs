// A scope's completion cannot leave the scope: outside it, the buffer group
// it names could have been registered again, with other buffers. Keep the
// plain `Cqe` (`cqe.cqe()`) or claim the buffer inside the scope.
use uring::{Ring, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let kept = ring.scope(|s| {
        s.push(Nop::new()).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().next()
    });
    drop(kept);
}
