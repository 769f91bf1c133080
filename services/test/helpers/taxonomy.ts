// A small taxonomy in the IAB TSV layout for the scoring tests: two branches, one of them under an
// SCD (sensitive) node.
export const smallTaxonomyRows = [
  "Unique ID\tParent\tName\tTier 1\tTier 2\tTier 3\tTier 4\tExtension",
  "1\t\tSports\tSports\t\t\t\t",
  "2\t1\tTennis\tSports\tTennis\t\t\t",
  "3\t2\tGrand Slams\tSports\tTennis\tGrand Slams\t\t",
  "4\t\tHealth\tHealth\t\t\t\t",
  "5\t4\tConditions\tHealth\tConditions\t\t\tSCD",
  "6\t5\tAllergies\tHealth\tConditions\tAllergies\t\t",
];
