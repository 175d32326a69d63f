// Chains of any length: soft and hard links, link timeouts after any op, an op
// after a link timeout, a chain linked as a whole, a link timeout by hand.
use std::time::Duration;
use uring::{Ring, TimeoutFlags, ops::{LinkTimeout, Nop}};

fn main() {
    let mut ring = Ring::new(32).unwrap();
    let ms = Duration::from_millis;
    ring.push(Nop::new().user_data(1).link(Nop::new().user_data(2))).unwrap();
    ring.push(Nop::new().user_data(3).hard_link(Nop::new().user_data(4)).link(Nop::new().user_data(5)))
        .unwrap();
    ring.push(Nop::new().user_data(6).timeout(ms(500)).link(Nop::new().user_data(7))).unwrap();
    ring.push(Nop::new().user_data(8).link(Nop::new().user_data(9).timeout(ms(500)))).unwrap();
    let by_hand = LinkTimeout::new(ms(500)).timeout_flags(TimeoutFlags::empty()).user_data(10);
    ring.push(Nop::new().user_data(11).link_timeout(by_hand)).unwrap();
    // 2 + 3 + 3 + 3 + 2 SQEs.
    assert_eq!(ring.pending(), 13);
    ring.submit_and_wait(13).unwrap();
    let mut done: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    done.sort();
    // The link timeouts without a user_data of their own complete with 0.
    assert_eq!(done, [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
}
