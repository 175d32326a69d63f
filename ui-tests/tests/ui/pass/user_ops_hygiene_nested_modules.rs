// `ops!` through `extern crate uring as io;` and by its absolute path, in
// nested modules, in a function body, with `pub`, `pub(crate)`, `pub(in ..)`
// and private visibility: each op is built, pushed and completed.
#![allow(dead_code)]

extern crate uring as io;

mod bare {
    ::io::ops! {
        #![list(pub(crate) const BARE_OPS)]

        /// Completes with `result`.
        #[since = "6.10"]
        pub(crate) unsafe struct InjectNop = NOP {
            /// The result to complete with.
            result: i32 => len,
            const nop_flags = ::io::sys::IORING_NOP_INJECT_RESULT,
        }

        /// A write of a borrowed buffer to a file or a registered one.
        #[since = "5.6"]
        pub unsafe struct MyWrite<'r> = WRITE {
            target: fd | fixed,
            buf: &'r [u8] => addr + len,
            offset: u64 = 0 => off,
            ioprio: impl ::core::convert::Into<u16> = 0u8 => ioprio,
        }
    }


    pub(crate) mod deeper {
        ::uring::ops! {
            /// A NOP private to this module.
            #[since = "5.1"]
            unsafe struct DeepNop = NOP {}

            /// A NOP visible to the parent module only.
            #[since = "5.1"]
            pub(in crate::bare) unsafe struct ParentNop = NOP {}
        }

        /// Pushes a private op.
        pub(crate) fn push_deep(ring: &mut ::io::Ring, user_data: u64) {
            ring.push(DeepNop::new().user_data(user_data)).unwrap();
        }
    }

    pub(crate) fn push_parent(ring: &mut ::io::Ring, user_data: u64) {
        ring.push(deeper::ParentNop::new().user_data(user_data)).unwrap();
    }
}

mod outer {
    pub(crate) mod inner {
        io::ops! {
            /// A NOP in a nested module, visible to the crate.
            #[since = "5.1"]
            pub(crate) unsafe struct InnerNop = 0 {}
        }
    }
}

fn main() {
    // Ops declared in a function body.
    uring::ops! {
        /// Completes with `result`, declared where it is used.
        #[since = "6.10"]
        unsafe struct LocalNop = NOP {
            result: i32 => len,
            const nop_flags = io::sys::IORING_NOP_INJECT_RESULT,
        }
    }

    let mut ring = io::Ring::new(16).unwrap();
    assert_eq!(bare::BARE_OPS.len(), 2);
    assert_eq!(bare::BARE_OPS[1].name, "MyWrite");
    ring.push(bare::InjectNop::new(11).user_data(1)).unwrap();
    bare::deeper::push_deep(&mut ring, 2);
    bare::push_parent(&mut ring, 6);
    ring.push(outer::inner::InnerNop::new().user_data(3)).unwrap();
    ring.push(LocalNop::new(-libc::EAGAIN).user_data(4)).unwrap();
    ring.submit_and_wait(5).unwrap();
    let mut done: Vec<(u64, i32)> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
    done.sort();
    assert_eq!(done, [(1, 11), (2, 0), (3, 0), (4, -libc::EAGAIN), (6, 0)]);

    let null = std::fs::File::options().write(true).open("/dev/null").unwrap();
    let bytes = *b"hygiene";
    let done = ring.scope(|s| {
        s.push(bare::MyWrite::new(&null, &bytes[..]).offset(0).ioprio(0u8).user_data(5)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().map(|c| (c.user_data(), c.res())).collect::<Vec<_>>()
    });
    assert_eq!(done, [(5, 7)]);
}
