//! The workload a pod belongs to, read off its name alone.
//!
//! A node daemon has no API access (it reads files), yet users think in
//! Deployments, not in `checkout-7d4b9c8f6d-x2k4p`. Kubernetes names the pods its
//! controllers create by fixed rules, with generated parts drawn from the alphabet
//! `bcdfghjklmnpqrstvwxz2456789` (k8s.io/apimachinery `pkg/util/rand`: no vowels,
//! so no words), which is enough to undo the naming:
//!
//! | controller  | pod name                                        | workload     |
//! |-------------|-------------------------------------------------|--------------|
//! | Deployment  | `<name>-<pod-template-hash 6–10>-<5>`           | `<name>`     |
//! | CronJob     | `<name>-<minutes since epoch>-<5>` (its Job's)  | `<name>`     |
//! | DaemonSet, Job, bare ReplicaSet | `<name>-<5>`                | `<name>`     |
//! | StatefulSet | `<name>-<ordinal>`                              | `<name>`     |
//!
//! Where no rule decides (a static pod `etcd-node1`, a hand-made `debug`), the
//! workload is the pod name itself. The rules can be fooled by a name that happens
//! to end like a generated one (a DaemonSet literally called `db-bcdfghjk`); that is
//! the price of needing no API access, and the pod name is always there as well.

/// The alphabet of Kubernetes' generated name parts.
const GENERATED: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generated(part: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&part.len()) && part.bytes().all(|b| GENERATED.contains(&b))
}

fn ordinal(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 10
        && part.bytes().all(|b| b.is_ascii_digit())
        && (part == "0" || !part.starts_with('0'))
}

/// The workload (Deployment, StatefulSet, DaemonSet, Job, CronJob) that `pod` was
/// created for, by the naming rules in the module docs; the pod name when none
/// applies. Never empty unless `pod` is.
pub fn workload_of(pod: &str) -> &str {
    let Some((rest, suffix)) = pod.rsplit_once('-') else {
        return pod;
    };
    if rest.is_empty() {
        return pod;
    }
    if generated(suffix, 5, 5) {
        if let Some((name, middle)) = rest.rsplit_once('-') {
            // A CronJob's Job is named after the scheduled minute: 8 digits today.
            let minutes = middle.len() >= 7 && middle.bytes().all(|b| b.is_ascii_digit());
            if !name.is_empty() && (generated(middle, 6, 10) || minutes) {
                return name;
            }
        }
        return rest;
    }
    if ordinal(suffix) {
        return rest;
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::workload_of;

    #[test]
    fn controllers_names_are_undone() {
        for (pod, want) in [
            ("checkout-7d4b9c8f6d-x2k4p", "checkout"),
            ("payments-api-5c9f8b7d44-zq7m2", "payments-api"),
            ("coredns-5dd5756b68-8xk2v", "coredns"),
            ("fluent-bit-x7k2p", "fluent-bit"),
            ("kube-proxy-2v9bz", "kube-proxy"),
            ("web-0", "web"),
            ("kafka-broker-12", "kafka-broker"),
            ("nightly-report-29412345-x9z2k", "nightly-report"),
            ("migrate-db-xq2zk", "migrate-db"),
        ] {
            assert_eq!(workload_of(pod), want, "{pod}");
        }
    }

    #[test]
    fn names_no_rule_decides_are_their_own_workload() {
        for pod in [
            "etcd-node1",
            "kube-apiserver-control-plane",
            "debug",
            "",
            "-",
            "-x2k4p",
            "web-01",
            "api-hello",
            // Vowels never appear in generated parts.
            "checkout-aaaaa",
            "web-7d4b9c8f6d-abcde",
        ] {
            assert_eq!(workload_of(pod), pod, "{pod}");
        }
    }

    #[test]
    fn a_short_middle_part_is_part_of_the_name() {
        // `<name>-<5>` where the name itself ends in a short word.
        assert_eq!(workload_of("log-shipper-x7k2p"), "log-shipper");
        assert_eq!(workload_of("my-app-v2-x7k2p"), "my-app-v2");
    }
}
