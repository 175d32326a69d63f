// A program's own op table expands in a crate that shadows the primitive
// types, `concat!`, and declares ops under `#[cfg]` (one configured out)
// and `#[deprecated]`: every name the expansion uses is a path the
// program cannot shadow, and each attribute lands where it may.
#![allow(non_camel_case_types, dead_code)]

struct u8;
struct u16;
struct u32;
type u64 = i8;
struct str;
struct bool;
macro_rules! concat {
    () => {};
}

uring::ops! {
    /// A NOP whose completion carries `result`.
    #[since = "6.10"]
    pub unsafe struct InjectNop = NOP {
        result: i32 => len,
        const nop_flags = ::uring::sys::IORING_NOP_INJECT_RESULT,
    }

    /// Configured out: none of its items exist.
    #[since = "6.10"]
    #[cfg(any())]
    pub unsafe struct Gone = NOP {
        result: i32 => len,
    }

    /// Deprecated: its uses warn, the expansion's own do not.
    #[since = "5.1"]
    #[deprecated = "use InjectNop"]
    pub unsafe struct OldNop = NOP {}
}

fn main() {
    let mut ring = uring::Ring::new(4).unwrap();
    ring.push(InjectNop::new(7).user_data(42)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<_> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
    assert_eq!(got, [(42, 7)]);
}
