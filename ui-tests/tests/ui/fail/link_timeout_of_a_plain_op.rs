// `.link_timeout(..)` takes a link timeout: an op to run after another is
// linked with `.link(..)`.
use uring::ops::Nop;

fn main() {
    let _chain = Nop::new().link_timeout(Nop::new());
}
