//! Summaries of timing samples: min, median and p90 (nearest rank), and the
//! median of paired ratios (each run of a variant divided by the bubblewrap
//! run of the same round).

/// min / median / p90 / mean of a sample, in the sample's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub mean: f64,
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted values.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median: the middle value, or the mean of the two middle values.
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        n: sorted.len(),
        min: sorted[0],
        median: median_of_sorted(&sorted),
        p90: nearest_rank(&sorted, 90.0),
        mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
    })
}

pub fn median(values: &[f64]) -> Option<f64> {
    summarize(values).map(|s| s.median)
}

/// The median over rounds of `a[i] / b[i]`, for the rounds where both ran.
pub fn paired_ratio(a: &[Option<f64>], b: &[Option<f64>]) -> Option<f64> {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if *b > 0.0 => Some(a / b),
            _ => None,
        })
        .collect();
    median(&ratios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_one_to_ten() {
        let values: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let s = summarize(&values).unwrap();
        assert_eq!((s.n, s.min, s.median, s.p90, s.mean), (10, 1.0, 5.5, 9.0, 5.5));
    }

    #[test]
    fn odd_count_and_single_value() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        let s = summarize(&[7.0]).unwrap();
        assert_eq!((s.min, s.median, s.p90), (7.0, 7.0, 7.0));
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn paired_ratio_skips_failed_rounds() {
        let a = [Some(2.0), None, Some(3.0), Some(8.0)];
        let b = [Some(1.0), Some(1.0), None, Some(2.0)];
        assert_eq!(paired_ratio(&a, &b), Some(3.0));
        assert_eq!(paired_ratio(&[None], &[Some(1.0)]), None);
    }
}
