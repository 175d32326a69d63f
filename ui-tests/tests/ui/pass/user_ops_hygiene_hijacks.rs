// The code a program's own op table expands to calls the library's methods
// by path: a trait of the program's, in scope for every type, whose by-value
// methods share their names (`write`, `user_data`, `flags`, ...), cannot
// take those calls over. (Were it to take `write`, the op's SQE would never
// be written, and the slot's previous SQE would run again.)
#![allow(dead_code)]

mod table {
    // In scope where the table expands, not in `main`.
    trait Hijack: Sized {
        fn user_data(self) -> u64 {
            0xdead
        }
        fn set_user_data(self, _: u64) {}
        fn flags(self) -> u8 {
            0xff
        }
        fn set_flags(self, _: u8) {}
        fn personality(self) -> u16 {
            0xffff
        }
        fn set_personality(self, _: u16) {}
        fn write<X>(self, _: X) {}
        fn write_with_cmd<X, Y>(self, _: X, _: Y) {}
        fn ring_owned<X>(self, _: X) -> u64 {
            0
        }
        fn next_slot(self) {}
        fn field<X, Y>(self, _: X, _: Y) -> Self {
            self
        }
        fn finish_non_exhaustive(self) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }
    impl<X> Hijack for X {}

    uring::ops! {
        /// A NOP whose completion carries `result`.
        #[since = "6.10"]
        pub unsafe struct InjectNop = NOP {
            result: i32 => len,
            const nop_flags = ::uring::sys::IORING_NOP_INJECT_RESULT,
        }
    }
}

use table::InjectNop;

fn main() {
    let mut ring = uring::Ring::new(1).unwrap();
    // A NOP first, in the one slot, which a lost write would run again.
    ring.push(uring::ops::Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().map(|c| c.user_data()).collect::<Vec<_>>(), [1]);
    ring.push(InjectNop::new(7).user_data(42)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<_> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
    assert_eq!(got, [(42, 7)]);
    // The link timeout's own `user_data`, set through the chain.
    ring.push(InjectNop::new(3).user_data(5).timeout_with(std::time::Duration::from_secs(5), 6))
        .unwrap_err();
    let mut ring = uring::Ring::new(4).unwrap();
    ring.push(InjectNop::new(3).user_data(5).timeout_with(std::time::Duration::from_secs(5), 6))
        .unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    got.sort();
    assert_eq!(got, [5, 6]);
    assert!(format!("{:?}", InjectNop::new(1).user_data(9)).contains("user_data: 9"));
}
