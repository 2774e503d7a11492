//! Level detection on the real loghub lines: where a system writes a level column,
//! the detected level is that column's; where it writes none, nothing is invented.

use crate::support::index::loghub_lines;
use lookout_daemon::level::detect;
use lookout_shared::Level;

fn column_level(word: &str) -> Option<Level> {
    match word.trim_matches(|c| c == '[' || c == ']') {
        "INFO" | "notice" => Some(Level::Info),
        "WARN" => Some(Level::Warn),
        "ERROR" | "FATAL" | "error" => Some(Level::Error),
        "DEBUG" => Some(Level::Debug),
        _ => None,
    }
}

#[test]
fn loghub_levels_match_their_columns() {
    let lines = loghub_lines();
    let mut checked = 0;
    for (stem, line) in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let expected = match stem.as_str() {
            "HDFS_2k" => words.get(3).and_then(|w| column_level(w)),
            "Spark_2k" | "Hadoop_2k" => words.get(2).and_then(|w| column_level(w)),
            "Zookeeper_2k" => words.get(3).and_then(|w| column_level(w)),
            "Apache_2k" => line
                .split("] [")
                .nth(1)
                .and_then(|s| s.split(']').next())
                .and_then(column_level),
            "HealthApp_2k" | "OpenSSH_2k" => None,
            _ => continue,
        };
        if matches!(
            stem.as_str(),
            "HDFS_2k" | "Spark_2k" | "Hadoop_2k" | "Zookeeper_2k" | "Apache_2k"
        ) && expected.is_none()
        {
            // A continuation line without a header: just must not panic.
            let _ = detect(line);
            continue;
        }
        assert_eq!(detect(line), expected, "{stem}: {line}");
        checked += 1;
    }
    assert!(checked > 9000, "{checked}");
    // Linux syslog: only the `ALERT` lines say something.
    for (stem, line) in &lines {
        if stem == "Linux_2k" {
            if let Some(l) = detect(line) {
                assert_eq!(l, Level::Error, "{line}");
                assert!(line.contains("ALERT"), "{line}");
            }
        }
    }
}
