//! Scoring: a draft resolved against the index ([`Probe`]), candidates gathered from the postings
//! of its rarest features, each compared into [`Signals`] and checked by the hard rules
//! ([`Objection`]); the calibrated decision reads the signals.

use super::*;

/// The probability that a draft repeats a stored claim, given what comparing them measured and
/// the fitted weights: a logistic model.
pub fn known_probability(signals: &Signals, w: &DecisionWeights) -> f32 {
    let z = w.bias + signals.weighted_by(&w.weights);
    1.0 / (1.0 + (-z).exp())
}

/// A draft resolved once against the index (its numbers, its features' document frequencies),
/// so that comparing it with each candidate is binary searches over small sorted arrays.
pub(super) struct Probe<'d> {
    pub(super) lang: u16,
    /// Features that count in the score.
    pub(super) facts: Vec<Fact>,
    /// Same-language stems (`W:`) with their rarity weight, and their total.
    pub(super) words: Vec<(u32, f32)>,
    pub(super) word_total: f32,
    /// Concepts the draft denies: name, `C:` number, `G:` number.
    pub(super) denied: Vec<(&'d str, u32, u32)>,
    /// Concepts the draft states without denying them: name, `G:` number.
    pub(super) affirmed: Vec<(&'d str, u32)>,
    /// Quantities: the feature, its `V:value` number, its `Q:unit:` prefix (none for bare counts).
    pub(super) quantities: Vec<(&'d str, u32, Option<&'d str>)>,
    /// Indexed features, with what the index holds of them.
    pub(super) indexed: Vec<Indexed<'d>>,
    /// Unknown names (`N:`) that no stored claim has, as [`Signals::novel_names`].
    pub(super) novel_names: f32,
    /// The rarity of a feature only one stored claim has: the scale of [`Signals::rarest`].
    pub(super) rarity_scale: f32,
}

/// A feature of a draft that counts in the score.
pub(super) struct Fact {
    pub(super) number: u32,
    /// Type × rarity.
    pub(super) weight: f32,
    /// Rarity alone.
    pub(super) rarity: f32,
    /// For a role pair (`R:actor~concept`), the numbers of its two parts.
    pub(super) role: Option<(u32, u32)>,
    /// Another feature that states the same fact ([`restated_as`]).
    pub(super) same: Option<u32>,
}

/// An indexed feature of a draft.
pub(super) struct Indexed<'d> {
    pub(super) name: &'d str,
    pub(super) number: u32,
    /// Claims that carry it themselves, in memory and on disk.
    pub(super) df: u32,
    /// Rarity weight.
    pub(super) weight: f32,
    /// How many of them are in the on-disk index.
    pub(super) on_disk: u32,
}

/// A claim that may repeat the draft: a slot in memory, or an id in the on-disk index.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Candidate {
    Memory(u32),
    Disk(u64),
}

impl<'d> Probe<'d> {
    /// `on_disk` counts the claims of the on-disk index that carry a feature themselves.
    pub(super) fn new(
        names: &mut Names<'_>,
        draft: &'d ClaimDraft,
        stored: u64,
        mut on_disk: impl FnMut(&str) -> Result<u32, StoreError>,
    ) -> Result<Probe<'d>, StoreError> {
        let n = stored as f32;
        let mut probe = Probe {
            lang: names.lang(&draft.lang),
            facts: Vec::new(),
            words: Vec::new(),
            word_total: 0.0,
            denied: Vec::new(),
            affirmed: Vec::new(),
            quantities: Vec::new(),
            indexed: Vec::new(),
            novel_names: 0.0,
            rarity_scale: rarity(n, 1),
        };
        // The number of `prefix` + `name`, through one reused buffer.
        let mut key = String::new();
        let mut number_of = |names: &mut Names<'_>, prefix: &str, name: &str| {
            key.clear();
            key.push_str(prefix);
            key.push_str(name);
            names.number(&key)
        };
        for f in draft.features.iter().map(String::as_str) {
            let number = names.number(f);
            let weight = if indexed(f) {
                let on_disk = on_disk(f)?;
                let df = names.memory.df_of(number) + on_disk;
                let idf = rarity(n, df);
                probe.indexed.push(Indexed { name: f, number, df, weight: idf, on_disk });
                idf
            } else {
                0.1
            };
            let Some(feature) = Feature::parse(f) else { continue };
            if feature.weight() > 0.0 {
                let role = match feature {
                    Feature::Role { actor, concept } => {
                        Some((number_of(names, "E:", actor), number_of(names, "C:", concept)))
                    }
                    _ => None,
                };
                let same = restated_as(f).map(|other| names.number(&other));
                probe.facts.push(Fact {
                    number,
                    weight: feature.weight() * weight,
                    rarity: weight,
                    role,
                    same,
                });
            }
            match feature {
                Feature::Stem(_) => {
                    probe.words.push((number, weight));
                    probe.word_total += weight;
                }
                Feature::Negated(g) => probe.denied.push((g, number_of(names, "C:", g), number)),
                Feature::Concept(c) if !draft.has(&format!("G:{c}")) => {
                    probe.affirmed.push((c, number_of(names, "G:", c)));
                }
                Feature::Quantity { unit, value } => {
                    let prefix = if unit == "n" { None } else { f.get(..unit.len() + 3) };
                    probe.quantities.push((f, number_of(names, "V:", value), prefix));
                }
                _ => {}
            }
        }
        // A content word weighs at most as much as an average fact of the draft: a word no
        // claim in its language has yet (every word of a language the store has not read) is
        // not therefore rarer than a name or a number.
        if !probe.facts.is_empty() {
            let cap = probe.facts.iter().map(|f| f.weight).sum::<f32>() / probe.facts.len() as f32;
            for (_, w) in &mut probe.words {
                *w = w.min(cap);
            }
            probe.word_total = probe.words.iter().map(|(_, w)| w).sum();
        }
        let novel_names = probe
            .indexed
            .iter()
            .filter(|f| f.df == 0 && matches!(Feature::parse(f.name), Some(Feature::Name(_))))
            .count();
        probe.novel_names = novel_names.min(2) as f32 / 2.0;
        Ok(probe)
    }

    /// The best `max_candidates` of [`Probe::gather`].
    pub(super) fn candidates(
        &self,
        memory: &Memory,
        postings: &sled::Tree,
        config: &ClaimsConfig,
    ) -> Result<Vec<Candidate>, StoreError> {
        let summed = self.gather(memory, postings, config)?;
        // The best `max_candidates`, ties to the lower claim id (the same choice after a
        // restart): keep what scores at least the k-th best score, then rank only those by id.
        let k = config.max_candidates;
        let mut best: Vec<(f32, Candidate)> = summed.into_iter().map(|(c, w)| (w, c)).collect();
        if best.len() > k {
            let (_, kth, _) = best.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            let kth = kth.0;
            best.retain(|(w, _)| *w >= kth);
        }
        let mut ranked: Vec<(f32, u64, Candidate)> =
            best.into_iter().map(|(w, c)| (w, memory.id_of(c), c)).collect();
        ranked.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(k);
        Ok(ranked.into_iter().map(|(_, _, c)| c).collect())
    }

    /// Candidates from the postings of the selective features, rarest first, with the summed
    /// weight of the features that found them.
    pub(super) fn gather(
        &self,
        memory: &Memory,
        postings: &sled::Tree,
        config: &ClaimsConfig,
    ) -> Result<FxHashMap<Candidate, f32>, StoreError> {
        let n = memory.claims.len() as u64 + memory.cold;
        // A feature carried by a large share of the store (a country, a common word) selects
        // nothing and is skipped; when nothing selective is left, the three rarest are used.
        let mut by_rarity: Vec<&Indexed<'_>> = self.indexed.iter().filter(|f| f.df > 0).collect();
        by_rarity.sort_by(|a, b| a.df.cmp(&b.df).then_with(|| a.name.cmp(b.name)));
        let selective_cap = (n / 20).max(config.max_postings as u64 / 4).max(64);
        let mut chosen: Vec<_> = by_rarity.iter().filter(|f| f.df as u64 <= selective_cap).collect();
        if chosen.len() < 3 {
            chosen = by_rarity.iter().take(3).collect();
        }
        // `max_postings` is the budget of postings read per draft, spent rarest feature first
        // and newest claim first (memory, then disk): rare features (names, numbers, places)
        // find a repeat at once.
        let mut budget = config.max_postings;
        let mut summed: FxHashMap<Candidate, f32> = FxHashMap::default();
        summed.reserve(budget);
        for f in chosen.into_iter().copied() {
            let w = f.weight
                * match Feature::parse(f.name) {
                    Some(Feature::Stem(_)) => 0.5,
                    Some(feature) => feature.weight().max(0.2),
                    None => 0.2,
                };
            let in_memory = memory.postings.get(f.number as usize).map_or(&[][..], Vec::as_slice);
            for slot in in_memory.iter().rev().take(budget) {
                *summed.entry(Candidate::Memory(*slot)).or_default() += w;
            }
            budget -= budget.min(in_memory.len());
            // On disk: chunks newest first, until the budget or the feature's last chunk
            // (counted, so that the scan does not look past it).
            let mut left = f.on_disk as usize;
            let mut chunks = postings.scan_prefix(postings_prefix(f.name));
            while budget > 0 && left > 0 {
                let Some(chunk) = chunks.next() else { break };
                let (_, ids) = chunk?;
                for id in ids.chunks_exact(8).take(budget) {
                    *summed.entry(Candidate::Disk(be_u64(id))).or_default() += w;
                }
                budget -= budget.min(ids.len() / 8);
                left = left.saturating_sub(ids.len() / 8);
            }
            if budget == 0 {
                break;
            }
        }
        Ok(summed)
    }

    /// Measures how much of the draft `claim` accounts for (its setting counting partly), and
    /// states the hard rule that makes them different claims, if one does.
    pub(super) fn compare(&self, names: &Names<'_>, claim: &Facts) -> (Signals, Option<Objection<'d>>) {
        let in_claim = |n: u32| claim.features().binary_search(&n).is_ok();
        let in_context = |n: u32| claim.context().binary_search(&n).is_ok();
        let mut total = 0.0f32;
        let mut matched = 0.0f32;
        let mut own = 0.0f32;
        let mut rarest = 0.0f32;
        for Fact { number, weight, rarity, role, same } in &self.facts {
            // A role pair counts only when the claim has both parts: then it tells who did
            // what (Russia attacks vs Ukraine attacks).
            if let Some((actor, concept)) = role {
                if !(in_claim(*actor) && in_claim(*concept)) {
                    continue;
                }
            }
            total += weight;
            if in_claim(*number) || same.is_some_and(in_claim) {
                matched += weight;
                own += weight;
                rarest = rarest.max(*rarity);
            } else if role.is_none() && in_context(*number) {
                matched += weight * CONTEXT_CREDIT;
            }
        }
        let same_lang = self.lang == claim.lang;
        let shared_words: f32 = if same_lang {
            self.words.iter().filter(|(n, _)| in_claim(*n)).map(|(_, w)| w).sum()
        } else {
            0.0
        };
        let content = total + self.word_total;
        let share = |part: f32, whole: f32| if whole > 0.0 { part / whole } else { 0.0 };
        let signals = Signals {
            facts: share(matched, total),
            own: share(own, total),
            novel_names: self.novel_names,
            words: share(shared_words, self.word_total),
            coverage: share(matched + shared_words, content),
            unrecognised: share(self.word_total, content),
            same_lang: if same_lang { 1.0 } else { 0.0 },
            rarest: share(rarest, self.rarity_scale),
        };
        (signals, self.objection(names, claim))
    }

    /// The hard rule that makes `claim` another claim than the draft, if one does.
    pub(super) fn objection(&self, names: &Names<'_>, claim: &Facts) -> Option<Objection<'d>> {
        let in_claim = |n: u32| claim.features().binary_search(&n).is_ok();
        let in_context = |n: u32| claim.context().binary_search(&n).is_ok();
        // Polarity: a concept negated on one side only. A negated concept is what the claim
        // denies, so a stored claim that does not speak of it at all is not the same claim.
        for (g, concept, negated) in &self.denied {
            if !in_claim(*concept) {
                return Some(Objection::Unspoken(g));
            }
            if !in_claim(*negated) {
                return Some(Objection::NegatedHere(g));
            }
        }
        for (c, negated) in &self.affirmed {
            if in_claim(*negated) {
                return Some(Objection::NegatedThere(c));
            }
        }
        // Same kind of quantity, another value.
        for (q, value, unit_prefix) in &self.quantities {
            if in_claim(*value) || in_context(*value) {
                continue;
            }
            if let Some(prefix) = unit_prefix {
                if claim.features().iter().any(|n| names.name(*n).starts_with(prefix)) {
                    return Some(Objection::OtherQuantity(q));
                }
            }
        }
        None
    }
}

/// The hard rule that makes a stored claim another claim than the draft, whatever the score.
pub(super) enum Objection<'d> {
    /// The draft denies a concept the stored claim does not speak of.
    Unspoken(&'d str),
    /// The draft denies a concept the stored claim states.
    NegatedHere(&'d str),
    /// The stored claim denies a concept the draft states.
    NegatedThere(&'d str),
    /// The same kind of quantity with another value.
    OtherQuantity(&'d str),
}

impl std::fmt::Display for Objection<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Objection::Unspoken(g) => {
                write!(out, "the known claim does not speak of \"{g}\", which this one denies")
            }
            Objection::NegatedHere(g) => write!(out, "\"{g}\" is denied here, not in the known claim"),
            Objection::NegatedThere(c) => write!(out, "\"{c}\" is denied in the known claim, not here"),
            Objection::OtherQuantity(q) => {
                write!(out, "{} differs from the known claim's quantity", describe(q))
            }
        }
    }
}

/// The rarity (inverse document frequency) of a feature `df` of `n` stored claims have.
fn rarity(n: f32, df: u32) -> f32 {
    ((n + 1.0) / (df as f32 + 0.5)).ln().max(0.1)
}

/// Share of a feature's weight credited when it is only in a stored claim's setting.
pub(super) const CONTEXT_CREDIT: f32 = 0.6;
