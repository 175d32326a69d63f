//! Registered files: the table, its updates, and the handle that proves a
//! slot belongs to a ring.

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, HandleError, Result};
use crate::ring::Ring;
use crate::sys;
use crate::types::{Fixed, FixedMut};
use std::os::fd::{AsRawFd, BorrowedFd};

/// The handle to a ring's fixed-file table, returned by
/// [`Ring::register_files`] and [`Ring::register_files_sparse`].
///
/// It is the only source of [`Fixed`] targets, each checked against the
/// table's size and borrowed from the handle, and it is consumed by
/// [`Ring::unregister_files`]: no `Fixed` outlives its registration. What
/// changes the files in the table (updating slots, closing one, installing
/// a direct descriptor at a slot) needs the handle exclusively, through
/// `&mut` or a [`FixedMut`], so no op using a slot's file can be in flight
/// meanwhile. (Ops that allocate a direct descriptor fill empty slots only,
/// and need no handle: see [`Fixed`] for an op that names an empty slot.)
///
/// Dropping the handle does not unregister the table (nothing but the
/// handle can, and a drop could not report an error): the table, and the
/// kernel's references to its files, stay for the ring's life, and every
/// later registration of files fails with `EBUSY`. Hand it to
/// `unregister_files` instead.
#[derive(Debug)]
#[must_use = "a dropped handle leaves the table registered for the ring's life; unregister it with `Ring::unregister_files`"]
pub struct FixedFiles {
    ring: u32,
    len: u32,
}

impl FixedFiles {
    /// The number of slots in the table.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the table has no slot.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot at `index`, as an op target; an error if the table has no
    /// such slot.
    pub fn get(&self, index: u32) -> Result<Fixed<'_>> {
        self.check(index)?;
        Ok(Fixed::new(index, self.ring))
    }

    /// The slot at `index`, held exclusively: for ops that close the file
    /// there or replace it (`Close`, [`DirectSlot::at`](crate::DirectSlot::at)),
    /// and for those that replace the files from there on
    /// ([`FilesAt`](crate::FilesAt), a direct `Pipe`, which takes the slot
    /// after it too). It borrows the whole table, so no other handle of it
    /// is alive meanwhile.
    pub fn get_mut(&mut self, index: u32) -> Result<FixedMut<'_>> {
        self.check(index)?;
        Ok(FixedMut::new(index, self.ring, true))
    }

    /// Several distinct slots held exclusively at once (to close several
    /// files in one scope); an error if an index repeats or is outside the
    /// table. Each holds its one slot: an op that would replace the slots
    /// after it too (a `FilesUpdate` at it, a direct `Pipe`) fails with
    /// `EINVAL`, since they may be held by the others.
    pub fn get_many_mut<const N: usize>(&mut self, indices: [u32; N]) -> Result<[FixedMut<'_>; N]> {
        for (i, &index) in indices.iter().enumerate() {
            self.check(index)?;
            if indices[..i].contains(&index) {
                return Err(Error::InvalidArgument(format!(
                    "fixed-file index {index} is asked for twice"
                )));
            }
        }
        Ok(indices.map(|index| FixedMut::new(index, self.ring, false)))
    }

    /// Every slot, in order.
    pub fn iter(&self) -> impl Iterator<Item = Fixed<'_>> + '_ {
        (0..self.len).map(|index| Fixed::new(index, self.ring))
    }

    fn check(&self, index: u32) -> Result<()> {
        if index < self.len {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "fixed-file index {index} is outside the table of {} files",
                self.len
            )))
        }
    }
}

/// What [`Ring::update_file_slots`] does with one slot of a fixed-file
/// table.
#[derive(Clone, Copy, Debug)]
pub enum SlotUpdate<'fd> {
    /// Leaves the slot as it is (`IORING_REGISTER_FILES_SKIP`).
    Keep,
    /// Empties the slot.
    Empty,
    /// Puts the file in the slot; the kernel holds its own reference, so
    /// the descriptor may be closed afterwards.
    Set(BorrowedFd<'fd>),
    /// Puts the file in the slot with a tag (`IORING_REGISTER_FILES_UPDATE2`,
    /// 5.13, [`Features::RSRC_TAGS`](crate::Features::RSRC_TAGS)): once the
    /// kernel no longer uses the file at this slot (the slot was updated
    /// again, or the table unregistered, and the ops using it have
    /// completed), it posts a completion with the tag as its `user_data`
    /// and 0 as its result. A tag of 0 posts nothing.
    Tagged(BorrowedFd<'fd>, u64),
}

/// Runs `register` (a registration of a fixed-file table of `len` slots)
/// and, should the kernel refuse the table as longer than the process's
/// soft `RLIMIT_NOFILE` (`EMFILE`), raises that limit to `len` (if the
/// hard limit lets it) and runs it once more, as liburing does.
fn within_nofile_limit<T>(len: u32, mut register: impl FnMut() -> Result<T>) -> Result<T> {
    match register() {
        Err(e) if e.raw_os_error() == Some(libc::EMFILE) && sys::raise_nofile_limit(len) => {
            register()
        }
        other => other,
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Registers `files` as the fixed-file table (`IORING_REGISTER_FILES`).
    /// The kernel holds its own references: the descriptors may be closed
    /// afterwards.
    ///
    /// The kernel refuses a table longer than the process's soft
    /// `RLIMIT_NOFILE` (`EMFILE`): as liburing does, every registration of
    /// a file table then raises that limit to the table's length, if the
    /// hard limit lets it, and asks again (`EMFILE` past the hard limit, the
    /// soft one left as it was). The raised limit stays raised, also when
    /// the kernel then refuses the table for another reason (a file it does
    /// not take: `EBADF`).
    pub fn register_files(&mut self, files: &[BorrowedFd<'_>]) -> Result<FixedFiles> {
        let fds: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
        self.register_file_table(&fds)
    }

    /// Registers the fixed-file table slot by slot: `Some` slots hold their
    /// file, `None` slots are empty (as a `-1` in liburing's
    /// `io_uring_register_files`), to fill later with
    /// [`update_files`](Ring::update_files) or direct descriptors. An op
    /// on an empty slot fails with `EBADF`. The kernel holds its own
    /// references: the descriptors may be closed afterwards.
    pub fn register_file_slots(&mut self, files: &[Option<BorrowedFd<'_>>]) -> Result<FixedFiles> {
        let fds: Vec<i32> = files
            .iter()
            .map(|f| f.map_or(-1, |f| f.as_raw_fd()))
            .collect();
        self.register_file_table(&fds)
    }

    /// `IORING_REGISTER_FILES` of the descriptors `fds` (`-1` for an empty
    /// slot).
    fn register_file_table(&mut self, fds: &[i32]) -> Result<FixedFiles> {
        let len = u32::try_from(fds.len())
            .map_err(|_| Error::InvalidArgument("too many files to register".into()))?;
        within_nofile_limit(len, || {
            self.register(
                sys::IORING_REGISTER_FILES,
                fds.as_ptr().cast(),
                len,
                "IORING_REGISTER_FILES",
            )
        })?;
        Ok(FixedFiles { ring: self.id, len })
    }

    /// Registers `files` as the fixed-file table, each with a tag
    /// (`IORING_REGISTER_FILES2`, 5.13,
    /// [`Features::RSRC_TAGS`](crate::Features::RSRC_TAGS)): once the
    /// kernel no longer uses a file at its slot (after an update of the
    /// slot or the table's unregistration, and the ops that used it), it
    /// posts a completion with the file's tag as `user_data` and 0 as
    /// result; a tag of 0 posts nothing. Those completions come to the
    /// ring's CQ as any other: they are not its ops'. (A ring that has
    /// registered a tag is tagged in every later [`scope`](Ring::scope),
    /// as after a push outside one.)
    pub fn register_files_tagged(&mut self, files: &[(BorrowedFd<'_>, u64)]) -> Result<FixedFiles> {
        let fds: Vec<i32> = files.iter().map(|(f, _)| f.as_raw_fd()).collect();
        let tags: Vec<u64> = files.iter().map(|&(_, t)| t).collect();
        let len = u32::try_from(fds.len())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::InvalidArgument(format!("{} files to register", fds.len())))?;
        self.note_tags(&tags);
        let reg = sys::io_uring_rsrc_register {
            nr: len,
            data: fds.as_ptr() as u64,
            tags: tags.as_ptr() as u64,
            ..Default::default()
        };
        within_nofile_limit(len, || {
            self.register_rsrc(sys::IORING_REGISTER_FILES2, &reg, "IORING_REGISTER_FILES2")
        })?;
        Ok(FixedFiles { ring: self.id, len })
    }

    /// Registers an empty fixed-file table of `len` slots, to fill later with
    /// [`update_files`](Ring::update_files) or direct descriptors
    /// (`IORING_RSRC_REGISTER_SPARSE`, 5.19; older kernels get a table of
    /// `-1` entries).
    pub fn register_files_sparse(&mut self, len: u32) -> Result<FixedFiles> {
        if len == 0 || len > sys::IORING_MAX_FIXED_FILES {
            return Err(Error::InvalidArgument(format!(
                "a sparse fixed-file table holds 1 to {} files, not {len}",
                sys::IORING_MAX_FIXED_FILES
            )));
        }
        let sparse = within_nofile_limit(len, || {
            self.register_sparse(sys::IORING_REGISTER_FILES2, len, "IORING_REGISTER_FILES2")
        });
        match sparse {
            Ok(_) => Ok(FixedFiles { ring: self.id, len }),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                self.register_file_table(&vec![-1; len as usize])
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the slots `offset ..` of the table with `files` (`None`
    /// empties a slot), returning how many slots were updated
    /// (`IORING_REGISTER_FILES_UPDATE`).
    ///
    /// The kernel goes through the slots in order and empties each before
    /// it looks at the file that replaces it: a file it refuses (`EBADF`
    /// for one opened with `O_PATH`, or an io_uring) ends the update with
    /// that slot already empty, which the count (or the error, for the
    /// first slot) leaves out.
    pub fn update_files(
        &mut self,
        table: &mut FixedFiles,
        offset: u32,
        files: &[Option<BorrowedFd<'_>>],
    ) -> Result<u32> {
        let fds: Vec<i32> = files
            .iter()
            .map(|f| f.map_or(-1, |f| f.as_raw_fd()))
            .collect();
        self.update_file_table(table, offset, &fds)
    }

    /// Updates the slots `offset ..` of the table one by one, as `updates`
    /// says: a slot may keep its file ([`SlotUpdate::Keep`],
    /// `IORING_REGISTER_FILES_SKIP`, 5.12), be emptied, or take a file,
    /// with a tag or without. Returns how many slots were gone through. A
    /// refused file leaves its slot empty, as for
    /// [`update_files`](Ring::update_files).
    pub fn update_file_slots(
        &mut self,
        table: &mut FixedFiles,
        offset: u32,
        updates: &[SlotUpdate<'_>],
    ) -> Result<u32> {
        let fds: Vec<i32> = updates
            .iter()
            .map(|u| match u {
                SlotUpdate::Keep => sys::IORING_REGISTER_FILES_SKIP,
                SlotUpdate::Empty => -1,
                SlotUpdate::Set(f) | SlotUpdate::Tagged(f, _) => f.as_raw_fd(),
            })
            .collect();
        let tags: Vec<u64> = updates
            .iter()
            .map(|u| match u {
                SlotUpdate::Tagged(_, tag) => *tag,
                _ => 0,
            })
            .collect();
        if tags.iter().all(|&t| t == 0) {
            return self.update_file_table(table, offset, &fds);
        }
        self.check_update(table, offset, fds.len())?;
        self.note_tags(&tags);
        let update = sys::io_uring_rsrc_update2 {
            offset,
            data: fds.as_ptr() as u64,
            tags: tags.as_ptr() as u64,
            nr: fds.len() as u32,
            ..Default::default()
        };
        self.update_rsrc(
            sys::IORING_REGISTER_FILES_UPDATE2,
            &update,
            "IORING_REGISTER_FILES_UPDATE2",
        )
    }

    /// Checks that `n` slots from `offset` are slots of `table`, a table of
    /// this ring.
    fn check_update(&self, table: &FixedFiles, offset: u32, n: usize) -> Result<()> {
        self.check_handle(table.ring, "files")?;
        let fits = u32::try_from(n)
            .ok()
            .and_then(|n| offset.checked_add(n))
            .is_some_and(|end| end <= table.len);
        if fits {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "updating {n} slots at {offset} overruns the table of {} files",
                table.len
            )))
        }
    }

    /// `IORING_REGISTER_FILES_UPDATE` of `fds` at `offset` of `table`,
    /// once the slots are found to be the table's.
    fn update_file_table(
        &mut self,
        table: &mut FixedFiles,
        offset: u32,
        fds: &[i32],
    ) -> Result<u32> {
        self.check_update(table, offset, fds.len())?;
        let update = sys::io_uring_files_update {
            offset,
            resv: 0,
            fds: fds.as_ptr() as u64,
        };
        self.register(
            sys::IORING_REGISTER_FILES_UPDATE,
            (&update as *const sys::io_uring_files_update).cast(),
            fds.len() as u32,
            "IORING_REGISTER_FILES_UPDATE",
        )
    }

    /// Unregisters the fixed-file table (`IORING_UNREGISTER_FILES`). On
    /// failure the handle comes back in the error.
    pub fn unregister_files(
        &mut self,
        table: FixedFiles,
    ) -> std::result::Result<(), HandleError<FixedFiles>> {
        let ring = table.ring;
        self.unregister(
            table,
            ring,
            "files",
            sys::IORING_UNREGISTER_FILES,
            "IORING_UNREGISTER_FILES",
        )
    }

    /// Makes direct descriptors that ask the kernel to pick a slot
    /// (`IORING_FILE_INDEX_ALLOC`) take one of `table`'s slots
    /// `offset .. offset + len` (`IORING_REGISTER_FILE_ALLOC_RANGE`, 6.0).
    /// Kernels without the fix that keeps the kernel's search hint inside
    /// the range (Linux 6.18 has it) may pick an empty slot outside it
    /// after a slot outside it was emptied or filled; they never pick an
    /// occupied one.
    pub fn set_file_alloc_range(
        &mut self,
        table: &FixedFiles,
        offset: u32,
        len: u32,
    ) -> Result<()> {
        self.check_handle(table.ring, "files")?;
        let range = sys::io_uring_file_index_range {
            off: offset,
            len,
            resv: 0,
        };
        self.register(
            sys::IORING_REGISTER_FILE_ALLOC_RANGE,
            (&range as *const sys::io_uring_file_index_range).cast(),
            0,
            "IORING_REGISTER_FILE_ALLOC_RANGE",
        )
        .map(drop)
    }
}
