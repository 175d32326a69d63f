//! `ops!` in a crate that denies warnings, the `unused` group, missing
//! docs, unsafe operations in unsafe functions, clippy's default groups and
//! several allow-by-default lints, with entries that carry doc comments,
//! `#[doc]` attributes, `#[allow]` and `#[cfg]` that keep them: the
//! generated code triggers none of them. Private ops whose setters go
//! unused, a public op in a public module, an op with no argument.
#![deny(
    warnings,
    unused,
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    rust_2018_idioms,
    missing_debug_implementations,
    unused_qualifications,
    unused_import_braces,
    unused_lifetimes,
    trivial_casts,
    trivial_numeric_casts,
    unit_bindings,
    let_underscore_drop,
    single_use_lifetimes,
    meta_variable_misuse,
    keyword_idents
)]

/// The crate's ops.
pub mod table {
    use uring::sys;

    uring::ops! {
        #![list(pub const TABLE)]

        /// Completes with `result`.
        #[doc = "A second line of documentation, as an attribute."]
        #[doc(alias = "inject")]
        #[since = "6.10"]
        #[allow(clippy::needless_pass_by_value)]
        #[cfg(all())]
        pub unsafe struct InjectNop = NOP {
            /// The result to complete with.
            result: i32 => len,
            /// Unused bits of `nop_flags`.
            extra: u32 = 0 => |nop_flags,
            const |nop_flags = sys::IORING_NOP_INJECT_RESULT,
        }

        /// A read whose setters the crate never calls.
        #[since = "5.6"]
        #[cfg(not(any()))]
        pub unsafe struct Read<'r> = READ {
            target: fd | fixed,
            buf: &'r mut [u8] | select => addr + len,
            /// The offset.
            offset: u64 = 0 => off,
            /// The priority.
            ioprio: impl Into<u16> = 0u16 => ioprio,
        }
    }

    uring::ops! {
        /// A private NOP with a setter nobody calls.
        #[since = "5.1"]
        unsafe struct Quiet = NOP {
            /// Never set.
            count: u32 = 0 => len,
        }
    }

    /// Pushes a private op.
    pub fn push_quiet(ring: &mut uring::Ring, user_data: u64) {
        ring.push(Quiet::new().user_data(user_data)).unwrap();
    }
}

fn main() {
    let mut ring = uring::Ring::new(8).unwrap();
    assert_eq!(table::TABLE.len(), 2);
    ring.push(table::InjectNop::new(9).extra(0).user_data(1)).unwrap();
    table::push_quiet(&mut ring, 2);
    ring.submit_and_wait(2).unwrap();
    let mut done: Vec<(u64, i32)> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
    done.sort_unstable();
    assert_eq!(done, [(1, 9), (2, 0)]);
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [1u8; 4];
    let done = ring.scope(|s| {
        s.push(table::Read::new(&zero, &mut buf[..]).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().map(|c| (c.user_data(), c.res())).collect::<Vec<_>>()
    });
    assert_eq!(done, [(3, 4)]);
}
