//! "Did you mean" hints for misspelt names.

/// The candidate closest to `word`, when it is close enough to be a typo.
pub fn did_you_mean<'a, S: AsRef<str>>(word: &str, candidates: &'a [S]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c.as_ref()), c.as_ref()))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn close_words_are_suggested() {
        let known = ["access", "console", "age-recipient"];
        assert_eq!(did_you_mean("consol", &known), Some("console"));
        assert_eq!(did_you_mean("acess", &known), Some("access"));
        assert_eq!(did_you_mean("zebra", &known), None);
    }
}
