// Live tests start real servers and wait on failovers; each test bounds its own waits, and this
// outer bound only catches a test that forgot to.
jest.setTimeout(300000);
