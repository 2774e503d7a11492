//! The daemon's one lock-poison policy: recover, log once, never pretend.
//!
//! A `std` lock is poisoned when a thread panicked while holding it. Nothing in the
//! daemon panics by design, so a poisoned lock means a bug whose panic message is
//! already in the log. The data behind the lock is still the last value written: every
//! critical section in the daemon is a few assignments to counters, lists or maps, at
//! worst half-applied, never freed or dangling. So the policy is to take the guard
//! anyway ([`std::sync::PoisonError::into_inner`]), say so once (the poison is then
//! cleared, so the warning is not repeated on every access), and go on.
//!
//! What the policy rules out is treating a poisoned lock as "no data": an empty list,
//! `Default` metadata or a skipped update. That once read a poisoned bucket's
//! metadata as "holds no entries" and retention deleted the bucket's directory as
//! expired (see `tests/it/regression.rs`).

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

fn warn_poisoned(what: &str) {
    tracing::warn!(
        lock = what,
        "a thread panicked while holding a lock; using the data as it was left"
    );
}

/// Locks `m`, recovering it if poisoned (see the module docs).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => {
            warn_poisoned(std::any::type_name::<T>());
            m.clear_poison();
            p.into_inner()
        }
    }
}

/// Read-locks `l`, recovering it if poisoned (see the module docs).
pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    match l.read() {
        Ok(g) => g,
        Err(p) => {
            warn_poisoned(std::any::type_name::<T>());
            l.clear_poison();
            p.into_inner()
        }
    }
}

/// Write-locks `l`, recovering it if poisoned (see the module docs).
pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    match l.write() {
        Ok(g) => g,
        Err(p) => {
            warn_poisoned(std::any::type_name::<T>());
            l.clear_poison();
            p.into_inner()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisoned_locks_keep_their_data() {
        let m = std::sync::Arc::new(Mutex::new(vec![1, 2, 3]));
        let l = std::sync::Arc::new(RwLock::new(7));
        let (m2, l2) = (m.clone(), l.clone());
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            let _h = l2.write().unwrap();
            panic!("poison both");
        })
        .join();
        assert!(m.is_poisoned() && l.is_poisoned());
        assert_eq!(*lock(&m), [1, 2, 3]);
        assert_eq!(*read(&l), 7);
        *write(&l) = 8;
        assert_eq!(*read(&l), 8);
        assert!(
            !m.is_poisoned() && !l.is_poisoned(),
            "cleared after the warning"
        );
    }
}
