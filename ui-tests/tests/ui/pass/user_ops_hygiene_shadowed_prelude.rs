// `ops!` in a crate that shadows the prelude, `core`, `std` and `uring`
// themselves, and the names of the library's own types: every path of the
// generated code is absolute (`::core::..`, `::uring::..`), so none of these
// reaches it. The ops are then built, pushed, linked and completed on a ring.
#![allow(dead_code, non_camel_case_types, non_snake_case, unused_macros, unused_imports)]

// The prelude's types, traits, variants and functions.
type Result<T> = ::core::result::Result<T, Error>;
struct Error;
struct Option;
struct Some;
struct None;
struct Ok;
struct Err;
struct Vec;
struct String;
struct Box;
trait Into {}
trait From {}
trait Default {}
trait Clone {}
trait Copy {}
trait Send {}
trait Sync {}
trait Sized {}
trait Drop {}
trait Iterator {}
trait Debug {}
trait Fn {}
trait PartialEq {}
trait Eq {}
fn drop() {}
fn main_is_not_shadowed() {}
// The standard crates and the library, as local modules.
mod core {}
mod std {}
mod alloc {}
mod uring {}
mod fmt {}
mod marker {}
mod convert {}
mod sys {}
mod op {}
mod ops {}
// The names the generated code uses, as local items.
struct PhantomData;
struct Formatter;
struct Fd;
struct Fixed;
struct Link;
struct Common;
struct Entry;
struct Prepare;
struct Target;
struct Timespec;
struct SqeField;
struct Personality;
struct LinkTimeout;
struct OpInfo;
struct SqeSize;
struct Sqe128;
struct IntoTarget;
struct IntoFd;
struct IntoFixed;
struct IntoOwnedTarget;
struct Submission;
struct io_uring_sqe;
const IORING_OP_NOP: u8 = 99;
const IORING_OP_LINK_TIMEOUT: u8 = 99;
// The macros the generated code calls, shadowed by macros that accept
// nothing.
macro_rules! panic {
    () => {};
}
macro_rules! format_args {
    () => {};
}
macro_rules! compile_error {
    () => {};
}
macro_rules! stringify {
    () => {};
}

::uring::ops! {
    #![list(pub const SHADOWED_OPS)]

    /// Completes with `result`.
    #[since = "6.10"]
    pub unsafe struct InjectNop = NOP {
        /// The result to complete with.
        result: i32 => len,
        const nop_flags = ::uring::sys::IORING_NOP_INJECT_RESULT,
    }

    /// A read of a borrowed buffer or a provided one, at an offset that
    /// converts.
    #[since = "5.6"]
    pub unsafe struct MyRead<'a> = READ {
        target: fd | fixed,
        buf: &'a mut [u8] | select => addr + len,
        offset: impl ::core::convert::Into<u64> = 0u32 => off,
    }

    /// A NOP with no argument (it gets `Default`).
    #[since = "5.1"]
    pub unsafe struct Plain = NOP {}
}

fn main() {
    let mut ring = ::uring::Ring::new(16).unwrap();
    assert_eq!(SHADOWED_OPS.len(), 3);
    assert_eq!(InjectNop::CODE, ::uring::sys::IORING_OP_NOP);
    assert_eq!(<MyRead<'static>>::CODE, ::uring::sys::IORING_OP_READ);
    ring.push(InjectNop::new(-::libc::ENOSPC).user_data(1)).unwrap();
    ring.push(<Plain as ::core::default::Default>::default().user_data(2)).unwrap();
    ring.push(
        InjectNop::new(5)
            .user_data(3)
            .link(Plain::new().user_data(4))
            .timeout(::std::time::Duration::from_secs(5)),
    )
    .unwrap();
    ring.submit_and_wait(5).unwrap();
    let mut done: ::std::vec::Vec<(u64, i32)> =
        ring.completions().map(|c| (c.user_data(), c.res())).collect();
    done.sort();
    assert_eq!(done, [(0, -::libc::ECANCELED), (1, -::libc::ENOSPC), (2, 0), (3, 5), (4, 0)]);

    let zero = ::std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [1u8; 8];
    let done = ring.scope(|s| {
        s.push(MyRead::new(&zero, &mut buf[..]).offset(0u8).user_data(5)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().map(|c| (c.user_data(), c.res())).collect::<::std::vec::Vec<_>>()
    });
    assert_eq!(done, [(5, 8)]);
    assert_eq!(buf, [0u8; 8]);
    let _ = format!("{:?}", InjectNop::new(0));
}
