//! Which comparison group runs on which host: each idle host takes the first
//! waiting group it may run (its labels satisfy the benchmark's), one group
//! per host at a time. A host that dies gives its group back to the front of
//! the queue and takes no more; a group no live host may run is stranded.
//!
//! The state machine only; `bench` runs the groups on threads and tells it
//! what happened.

use std::collections::VecDeque;

/// What a host is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Idle,
    Busy(usize),
    Lost,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    slots: Vec<Slot>,
    waiting: VecDeque<usize>,
    /// `may_run[group][host]`.
    may_run: Vec<Vec<bool>>,
}

impl Schedule {
    /// Groups in the order they should start; `may_run[g][h]`: host `h` may run group `g`.
    pub fn new(hosts: usize, may_run: Vec<Vec<bool>>) -> Schedule {
        assert!(may_run.iter().all(|m| m.len() == hosts), "one flag per host for every group");
        Schedule { slots: vec![Slot::Idle; hosts], waiting: (0..may_run.len()).collect(), may_run }
    }

    /// Starts what can start now: `(host, group)` pairs, hosts in order.
    pub fn assign(&mut self) -> Vec<(usize, usize)> {
        let mut started = Vec::new();
        for h in 0..self.slots.len() {
            if self.slots[h] != Slot::Idle {
                continue;
            }
            if let Some(pos) = self.waiting.iter().position(|&g| self.may_run[g][h]) {
                let g = self.waiting.remove(pos).expect("position is in range");
                self.slots[h] = Slot::Busy(g);
                started.push((h, g));
            }
        }
        started
    }

    /// Host `h` finished its group.
    pub fn finished(&mut self, h: usize) {
        assert!(matches!(self.slots[h], Slot::Busy(_)), "host {h} was not running a group");
        self.slots[h] = Slot::Idle;
    }

    /// Host `h` died in the middle of its group: the group waits first in
    /// line for another host, and `h` is out of the pool. Returns the group.
    pub fn lost(&mut self, h: usize) -> usize {
        let Slot::Busy(g) = self.slots[h] else { panic!("host {h} was not running a group") };
        self.slots[h] = Slot::Lost;
        self.waiting.push_front(g);
        g
    }

    /// Nothing runs and nothing more can start.
    pub fn is_over(&self) -> bool {
        !self.slots.iter().any(|s| matches!(s, Slot::Busy(_))) && self.waiting.iter().all(|&g| !self.may_still_run(g))
    }

    /// Waiting groups that no live host may run.
    pub fn stranded(&self) -> Vec<usize> {
        self.waiting.iter().copied().filter(|&g| !self.may_still_run(g)).collect()
    }

    pub fn slot(&self, h: usize) -> Slot {
        self.slots[h]
    }

    fn may_still_run(&self, g: usize) -> bool {
        self.slots.iter().enumerate().any(|(h, s)| *s != Slot::Lost && self.may_run[g][h])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `may_run` where every host may run every group.
    fn open(hosts: usize, groups: usize) -> Vec<Vec<bool>> {
        vec![vec![true; hosts]; groups]
    }

    #[test]
    fn each_idle_host_takes_the_next_group_one_at_a_time() {
        let mut s = Schedule::new(2, open(2, 3));
        assert_eq!(s.assign(), [(0, 0), (1, 1)]);
        assert_eq!(s.assign(), [], "both hosts are busy");
        s.finished(1);
        assert_eq!(s.assign(), [(1, 2)]);
        assert!(!s.is_over());
        s.finished(0);
        s.finished(1);
        assert_eq!(s.assign(), []);
        assert!(s.is_over() && s.stranded().is_empty());
    }

    #[test]
    fn a_lost_hosts_group_starts_again_first_on_another_host() {
        let mut s = Schedule::new(2, open(2, 3));
        assert_eq!(s.assign(), [(0, 0), (1, 1)]);
        assert_eq!(s.lost(1), 1);
        assert_eq!(s.slot(1), Slot::Lost);
        assert_eq!(s.assign(), [], "host 0 is still busy");
        s.finished(0);
        assert_eq!(s.assign(), [(0, 1)], "the lost group before the one that never started");
        s.finished(0);
        assert_eq!(s.assign(), [(0, 2)]);
        s.finished(0);
        assert!(s.is_over() && s.stranded().is_empty());
    }

    #[test]
    fn labels_keep_a_group_to_its_hosts_and_strand_it_when_they_are_lost() {
        // Group 0 needs host 1's labels; group 1 runs anywhere.
        let mut s = Schedule::new(2, vec![vec![false, true], vec![true, true]]);
        assert_eq!(s.assign(), [(0, 1), (1, 0)], "host 0 skips the group it may not run");
        s.lost(1);
        assert!(!s.is_over(), "host 0 still runs group 1");
        assert_eq!(s.stranded(), [0]);
        s.finished(0);
        assert_eq!(s.assign(), [], "only host 1 may run group 0, and it is lost");
        assert!(s.is_over());
        assert_eq!(s.stranded(), [0]);
    }

    #[test]
    fn one_host_runs_every_group_in_order() {
        let mut s = Schedule::new(1, open(1, 2));
        let mut ran = Vec::new();
        while !s.is_over() {
            for (h, g) in s.assign() {
                ran.push(g);
                s.finished(h);
            }
        }
        assert_eq!(ran, [0, 1]);
    }
}
