// Every target form and every kind of argument, several ops in one
// invocation with a list, raw identifiers for argument names, oddly named
// lifetimes: each op is pushed and completed (opcode 251, which no kernel
// has, completes with -EINVAL whatever its fields; the others run).
#![allow(dead_code)]
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;
use uring::{BufferGroup, BufferPool, Builder, Cmd16, Cmd80, Fd, Ring, Sqe128, Timespec, UringCmdOp};

uring::ops! {
    #![list(pub const KINDS)]

    /// No target; required, optional, `impl Into` and `|field` arguments
    /// beside a `|field` constant.
    #[since = "6.10"]
    pub unsafe struct Inject = NOP {
        /// The result.
        r#type: i32 => len,
        /// Or-ed into `nop_flags` (0: nothing).
        r#match: u32 = 0 => |nop_flags,
        const |nop_flags = uring::sys::IORING_NOP_INJECT_RESULT,
    }

    /// A target of either kind, a buffer or a selection, a converted
    /// optional offset.
    #[since = "5.6"]
    pub unsafe struct ReadAny<'r> = READ {
        target: fd | fixed,
        r#buf: &'r mut [u8] | select => addr + len,
        r#in: impl Into<u64> = 0u32 => off,
    }

    /// A group only: the kernel picks the buffer.
    #[since = "5.6"]
    pub unsafe struct ReadGroup = READ {
        target: fd,
        group: select => addr + len,
    }

    /// A registered file only.
    #[since = "5.1"]
    pub unsafe struct FsyncFixed = FSYNC {
        target: fixed,
    }

    /// A descriptor only; a `'static` borrow and no lifetime parameter.
    #[since = "5.6"]
    pub unsafe struct WriteStatic = WRITE {
        target: fd,
        bytes: &'static [u8] => addr + len,
        off: u64 = 0 => off,
    }

    /// Two lifetimes, one field per part of a nested struct.
    #[since = "5.1"]
    pub unsafe struct Nested<'a, 'b> = 251 {
        target: fd | fixed,
        first: &'a [u8] => addr3 + len,
        second: &'b std::ffi::CStr => off,
        level: u32 = 1 => level,
        optname: u32 = 2 => optname,
    }

    /// An owned target, closed by the op.
    #[since = "5.6"]
    pub unsafe struct CloseIt = CLOSE {
        target: owned,
    }

    /// An owned target or an exclusive slot.
    #[since = "5.15"]
    pub unsafe struct CloseEither = CLOSE {
        target: owned | fixed(file_index),
    }

    /// A ring-owned timespec.
    #[since = "5.4"]
    pub unsafe struct Sleep = TIMEOUT {
        #[ring_owned]
        r#for: impl Into<Timespec> => addr,
        const len = 1,
        const fd = -1,
    }

    /// A link timeout of its own.
    #[since = "5.5"]
    #[after_link]
    pub unsafe struct Bound = LINK_TIMEOUT {
        #[ring_owned]
        timeout: impl Into<Timespec> => addr,
        const len = 1,
        const fd = -1,
    }

    /// A 16-byte command.
    #[since = "5.19"]
    pub unsafe struct Cmd<'c> = 251 {
        target: fd | fixed,
        op: UringCmdOp => cmd_op,
        cmd: impl Into<Cmd16<'c>> => cmd,
    }

    /// An 80-byte command, on rings of 128-byte SQEs.
    #[since = "5.19"]
    #[sqe128]
    pub unsafe struct BigCmd<'c> = 251 {
        target: fd | fixed,
        op: UringCmdOp => cmd_op,
        cmd: impl Into<Cmd80<'c>> => cmd,
    }

    /// Provides buffers: the kernel keeps them.
    #[since = "5.7"]
    #[retains_memory]
    pub unsafe struct Provide<'a> = PROVIDE_BUFFERS {
        pool: BufferPool<'a> => addr + len + fd,
        group: BufferGroup => buf_group,
    }
}

fn sorted(mut done: Vec<(u64, i32)>) -> Vec<(u64, i32)> {
    done.sort();
    done
}

fn main() {
    assert_eq!(KINDS.len(), 13);
    assert_eq!(KINDS.iter().map(|op| op.name).collect::<Vec<_>>()[..3], ["Inject", "ReadAny", "ReadGroup"]);
    let mut ring = Ring::new(32).unwrap();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let null = std::fs::File::options().write(true).open("/dev/null").unwrap();
    let mut files = ring.register_files(&[zero.as_fd(), null.as_fd()]).unwrap();

    // Provided buffers first, for the selections below.
    let region: &'static mut [u8] = Box::leak(vec![1u8; 4 * 16].into_boxed_slice());
    let group = BufferGroup::new(7);
    // SAFETY: the region is leaked.
    unsafe { ring.push_unchecked(Provide::new(BufferPool::new(region, 16), group).user_data(1)) }.unwrap();
    ring.push(Inject::new(3).r#match(0).user_data(2)).unwrap();
    ring.push(Sleep::new(Duration::from_millis(1)).user_data(3)).unwrap();
    ring.submit_and_wait(3).unwrap();
    let done = sorted(ring.completions().map(|c| (c.user_data(), c.res())).collect());
    assert_eq!(done, [(1, 0), (2, 3), (3, -libc::ETIME)]);

    let mut own = [1u8; 8];
    let head = [2u8; 4];
    let cmd = [0u8; 16];
    let done = ring.scope(|s| {
        let fixed = files.get(0).unwrap();
        s.push(ReadAny::new(&zero, &mut own[..]).r#in(0u8).user_data(10)).unwrap();
        s.push(ReadAny::new(fixed, group.select(16)).user_data(11)).unwrap();
        s.push(ReadGroup::new(&zero, group).user_data(12)).unwrap();
        s.push(FsyncFixed::new(files.get(1).unwrap()).user_data(13)).unwrap();
        s.push(Nested::new(&zero, &head[..], c"tail").level(3).optname(4).user_data(14)).unwrap();
        s.push(Nested::new(fixed, &head[..], c"tail").user_data(15)).unwrap();
        // SAFETY: opcode 251 reads nothing.
        let (op, cmd) = unsafe { (UringCmdOp::new(0), Cmd16::from_bytes(cmd)) };
        s.push(Cmd::new(&zero, op, cmd).user_data(16)).unwrap();
        s.push(Inject::new(0).user_data(17).link_timeout(Bound::new(Duration::from_secs(5)).user_data(18))).unwrap();
        s.push(WriteStatic::new(&null, b"static").off(0).user_data(19)).unwrap();
        s.submit_and_wait(10).unwrap();
        sorted(s.completions().map(|c| (c.user_data(), c.res())).collect())
    });
    let e = -libc::EINVAL;
    assert_eq!(
        done,
        [(10, 8), (11, 16), (12, 16), (13, e), (14, e), (15, e), (16, e), (17, 0), (18, -libc::ECANCELED), (19, 6)]
    );
    assert_eq!(own, [0u8; 8]);

    let done = ring.scope(|s| {
        s.push(OpenNull::new(c"/dev/null").user_data(20)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().next().unwrap().res()
    });
    assert!(done >= 0);
    // SAFETY: OPENAT's result is a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(done) };
    let dup = fd.try_clone().unwrap();
    ring.push(CloseIt::new(fd).user_data(21)).unwrap();
    ring.push(CloseEither::new(dup).user_data(22)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let done = sorted(ring.completions().map(|c| (c.user_data(), c.res())).collect());
    assert_eq!(done, [(21, 0), (22, 0)]);
    let done = ring.scope(|s| {
        s.push(CloseEither::new(files.get_mut(1).unwrap()).user_data(23)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().next().unwrap().res()
    });
    assert_eq!(done, 0);

    let mut big: Ring<Sqe128> = Builder::new().build_sized(8).unwrap();
    let bytes = [0u8; 80];
    let done = big.scope(|s| {
        // SAFETY: opcode 251 reads nothing.
        let (op, cmd) = unsafe { (UringCmdOp::new(0), Cmd80::from_bytes(bytes)) };
        s.push(BigCmd::new(&zero, op, cmd).user_data(30)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().map(|c| (c.user_data(), c.res())).collect::<Vec<_>>()
    });
    assert_eq!(done, [(30, -libc::EINVAL)]);
    let _ = Fd::CWD;
}

uring::ops! {
    /// A second table in the same module: a descriptor target and a path.
    #[since = "5.6"]
    unsafe struct OpenNull<'p> = OPENAT {
        const fd = libc::AT_FDCWD,
        path: &'p std::ffi::CStr => addr,
        const open_flags = libc::O_CLOEXEC | libc::O_WRONLY,
    }
}
