//! Which colour each pod's lines get: pods on screen together never share one
//! while the palette has room (a stable hash, as stern uses, put three visible
//! pods in the same cyan), and a pod keeps its colour for as long as it has lines
//! in the scrollback.

use std::collections::HashMap;

/// How many distinct pod colours the theme has (`ui::Theme::pod`).
pub const PALETTE: usize = 8;

/// Pod name → palette slot, assigned as lines arrive.
#[derive(Debug, Default)]
pub struct PodColors {
    /// Slot and the line counter when the pod last had a line.
    slots: HashMap<String, (usize, u64)>,
    /// Lines seen, the clock `last seen` is measured on.
    seen: u64,
}

impl PodColors {
    /// Notes a line of `pod`; `window` is how many recent lines count as "on
    /// screen or in the scrollback" (the scrollback's cap).
    pub fn saw(&mut self, pod: &str, window: u64) {
        self.seen += 1;
        let now = self.seen;
        if let Some(s) = self.slots.get_mut(pod) {
            s.1 = now;
            return;
        }
        let horizon = now.saturating_sub(window);
        // Forget pods whose lines have all left the scrollback: the map stays
        // as small as the set of pods in view.
        if self.slots.len() >= PALETTE * 4 {
            self.slots.retain(|_, (_, last)| *last > horizon);
        }
        let mut used = [None::<u64>; PALETTE];
        for (slot, last) in self.slots.values() {
            if *last > horizon {
                let u = &mut used[*slot];
                *u = Some(u.map_or(*last, |x| x.max(*last)));
            }
        }
        // A free slot, else the one whose pods were seen longest ago.
        let slot = used.iter().position(Option::is_none).unwrap_or_else(|| {
            (0..PALETTE)
                .min_by_key(|i| used[*i].unwrap_or(0))
                .unwrap_or(0)
        });
        self.slots.insert(pod.to_string(), (slot, now));
    }

    /// The pod's slot (a hash of the name for one never seen, e.g. in search
    /// results).
    pub fn slot(&self, pod: &str) -> usize {
        match self.slots.get(pod) {
            Some((s, _)) => *s,
            None => {
                let mut h: u32 = 0x811c_9dc5;
                for b in pod.bytes() {
                    h = (h ^ b as u32).wrapping_mul(0x0100_0193);
                }
                h as usize % PALETTE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_in_view_get_distinct_colours_until_the_palette_runs_out() {
        let mut c = PodColors::default();
        let pods: Vec<String> = (0..PALETTE).map(|i| format!("hdfs-datanode-{i}")).collect();
        for p in &pods {
            c.saw(p, 1000);
        }
        let mut slots: Vec<usize> = pods.iter().map(|p| c.slot(p)).collect();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), PALETTE, "two visible pods share a colour");
        // One more: it takes the slot of the pod seen longest ago, and the others
        // keep theirs.
        let before: Vec<usize> = pods[1..].iter().map(|p| c.slot(p)).collect();
        c.saw("late", 1000);
        assert_eq!(c.slot("late"), c.slot(&pods[0]));
        assert_eq!(
            before,
            pods[1..].iter().map(|p| c.slot(p)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_pod_gone_from_the_scrollback_frees_its_colour() {
        let mut c = PodColors::default();
        c.saw("old", 10);
        let old = c.slot("old");
        for _ in 0..20 {
            c.saw("busy", 10);
        }
        c.saw("new", 10);
        assert_eq!(c.slot("new"), old);
        for i in 0..1000 {
            c.saw(&format!("churn-{i}"), 10);
        }
        assert!(c.slots.len() <= PALETTE * 4);
    }
}
