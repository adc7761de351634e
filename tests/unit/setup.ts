// Evaluating a whole stack under mocks takes a few seconds of CPU; on a busy 2-core machine a
// beforeAll can pass jest's 5 s default. This bound only catches a hang.
jest.setTimeout(30000);
