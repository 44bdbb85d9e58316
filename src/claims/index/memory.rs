//! The memory tier: the newest claims as feature numbers with postings feature → claims, and
//! [`Names`], the per-judgement numbering that extends it to claims read from disk.

use super::*;

/// What judging reads of the newest claims: their facts as feature numbers and the postings
/// feature → claims, in memory. Rebuilt from `claims_hot` when the index opens and extended by
/// [`ClaimIndex::remember`] after each commit; when it outgrows `claims.index_memory`, its
/// oldest quarter moves to the on-disk index ([`ClaimIndex::seal`]).
#[derive(Default)]
pub(super) struct Memory {
    pub(super) numbers: FxHashMap<Arc<str>, u32>,
    pub(super) names: Vec<Arc<str>>,
    /// Per feature number: the claims that carry it themselves (not in their setting), oldest
    /// first. Its length is the feature's document frequency in memory.
    pub(super) postings: Vec<Vec<u32>>,
    /// Per claim slot (in first-seen order): its id, and its facts. Ids live apart so that
    /// ranking hundreds of candidates by id reads one compact array.
    pub(super) ids: Vec<u64>,
    pub(super) claims: Vec<Facts>,
    pub(super) langs: Vec<Box<str>>,
    /// Estimated heap bytes of all the above (for `claimwatch_claim_index_memory_bytes`).
    pub(super) bytes: usize,
    /// Claims in the on-disk index, and the number of its next postings chunk.
    pub(super) cold: u64,
    pub(super) next_chunk: u64,
}

/// One stored claim's facts.
pub(super) struct Facts {
    pub(super) lang: u16,
    /// Its own feature numbers, sorted, then those of its setting, sorted.
    pub(super) numbers: Box<[u32]>,
    pub(super) own: u32,
}

impl Facts {
    pub(super) fn features(&self) -> &[u32] {
        &self.numbers[..self.own as usize]
    }

    pub(super) fn context(&self) -> &[u32] {
        &self.numbers[self.own as usize..]
    }
}

impl Memory {
    pub(super) fn number(&self, feature: &str) -> Option<u32> {
        self.numbers.get(feature).copied()
    }

    /// How many claims in memory carry the feature numbered `number` themselves (0 for a number
    /// that only a judgement knows, see [`Names`]).
    pub(super) fn df_of(&self, number: u32) -> u32 {
        self.postings.get(number as usize).map_or(0, |p| p.len() as u32)
    }

    pub(super) fn id_of(&self, candidate: Candidate) -> u64 {
        match candidate {
            Candidate::Memory(slot) => self.ids[slot as usize],
            Candidate::Disk(id) => id,
        }
    }

    pub(super) fn intern(&mut self, feature: &str) -> u32 {
        if let Some(n) = self.number(feature) {
            return n;
        }
        let n = self.names.len() as u32;
        let name: Arc<str> = Arc::from(feature);
        // The string and its counts, a map entry, a name slot, an empty postings list.
        self.bytes += feature.len() + 16 + 32 + 16 + 24;
        self.names.push(name.clone());
        self.numbers.insert(name, n);
        self.postings.push(Vec::new());
        n
    }

    pub(super) fn sorted_numbers<S: AsRef<str>>(&mut self, features: &[S]) -> Vec<u32> {
        let mut numbers: Vec<u32> = features.iter().map(|f| self.intern(f.as_ref())).collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers
    }

    pub(super) fn add<S: AsRef<str>>(&mut self, id: u64, lang: &str, features: &[S], context: &[S]) {
        let slot = self.claims.len() as u32;
        let lang = match self.langs.iter().position(|l| &**l == lang) {
            Some(i) => i as u16,
            None => {
                self.langs.push(lang.into());
                (self.langs.len() - 1) as u16
            }
        };
        let mut numbers = self.sorted_numbers(features);
        for (n, feature) in numbers.iter().map(|n| (*n, self.names[*n as usize].clone())) {
            if indexed(&feature) {
                self.postings[n as usize].push(slot);
                self.bytes += 4;
            }
        }
        let own = numbers.len() as u32;
        numbers.extend(self.sorted_numbers(context));
        self.bytes += 8 + std::mem::size_of::<Facts>() + 4 * numbers.len();
        self.ids.push(id);
        self.claims.push(Facts { lang, numbers: numbers.into_boxed_slice(), own });
    }

    /// The same memory without its oldest `cut` claims (names no longer used are dropped).
    pub(super) fn without_oldest(&self, cut: usize) -> Memory {
        let mut rest = Memory { cold: self.cold, next_chunk: self.next_chunk, ..Memory::default() };
        let name = |n: &u32| self.names[*n as usize].clone();
        for (id, facts) in self.ids.iter().zip(&self.claims).skip(cut) {
            let own: Vec<Arc<str>> = facts.features().iter().map(name).collect();
            let context: Vec<Arc<str>> = facts.context().iter().map(name).collect();
            rest.add(*id, &self.langs[facts.lang as usize], &own, &context);
        }
        rest
    }
}

/// Feature and language numbers for one judgement: the memory's, extended by the names the
/// memory does not hold (a draft's unseen features, the features of claims read from disk).
/// An extended number is in no claim in memory, so it matches only what was read with it.
pub(super) struct Names<'m> {
    pub(super) memory: &'m Memory,
    pub(super) extra: FxHashMap<Rc<str>, u32>,
    pub(super) extra_names: Vec<Rc<str>>,
    pub(super) extra_langs: Vec<Box<str>>,
}

impl<'m> Names<'m> {
    pub(super) fn new(memory: &'m Memory) -> Names<'m> {
        Names { memory, extra: FxHashMap::default(), extra_names: Vec::new(), extra_langs: Vec::new() }
    }

    pub(super) fn number(&mut self, name: &str) -> u32 {
        if let Some(n) = self.memory.number(name).or_else(|| self.extra.get(name).copied()) {
            return n;
        }
        let n = (self.memory.names.len() + self.extra_names.len()) as u32;
        let name: Rc<str> = name.into();
        self.extra_names.push(name.clone());
        self.extra.insert(name, n);
        n
    }

    pub(super) fn name(&self, number: u32) -> &str {
        let held = self.memory.names.len();
        match (number as usize).checked_sub(held) {
            None => &self.memory.names[number as usize],
            Some(i) => &self.extra_names[i],
        }
    }

    pub(super) fn lang(&mut self, lang: &str) -> u16 {
        let held = self.memory.langs.len();
        if let Some(i) = self.memory.langs.iter().position(|l| **l == *lang) {
            return i as u16;
        }
        if let Some(i) = self.extra_langs.iter().position(|l| **l == *lang) {
            return (held + i) as u16;
        }
        self.extra_langs.push(lang.into());
        (held + self.extra_langs.len() - 1) as u16
    }

    pub(super) fn sorted(&mut self, names: &[&str]) -> Vec<u32> {
        let mut numbers: Vec<u32> = names.iter().map(|f| self.number(f)).collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers
    }

    /// The facts of a stored claim read from disk, in this judgement's numbers.
    pub(super) fn facts(&mut self, head: &ClaimHeadV1<'_>) -> Facts {
        let mut numbers = self.sorted(&head.features);
        let own = numbers.len() as u32;
        numbers.extend(self.sorted(&head.context));
        Facts { lang: self.lang(head.lang), numbers: numbers.into_boxed_slice(), own }
    }
}
