// The flags a caller may set, alone or together.
use uring::{Ring, SqeFlags, ops::Nop};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(1).flags(SqeFlags::IO_DRAIN | SqeFlags::ASYNC)).unwrap();
    ring.push(Nop::new().user_data(2).flags(SqeFlags::CQE_SKIP_SUCCESS)).unwrap();
    ring.push(Nop::new().user_data(3).flags(SqeFlags::EMPTY)).unwrap();
    ring.submit_and_wait(2).unwrap();
    // The NOP that succeeded with CQE_SKIP_SUCCESS posts no completion.
    let mut done: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    done.sort();
    assert_eq!(done, [1, 3]);
}
