"""What should exist, as pure functions of policy, catalog snapshot and time: the
partitions of a table and the steps that get there (:mod:`.roll`), and how hash partitions
split (:mod:`.hash_split`). No I/O, no clock."""
