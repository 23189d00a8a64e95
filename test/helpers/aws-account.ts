/** The account moto answers for (its default; the test stack sets no MOTO_ACCOUNT_ID): the controller's own in tests. */
export const MOTO_ACCOUNT = '123456789012';
/** An account that is not the controller's. */
export const FOREIGN_ACCOUNT = '210987654321';
