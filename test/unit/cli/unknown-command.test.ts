import { buildProgram, unknownCommandMessage } from '../../../src/cli';

describe('unknownCommandMessage', () => {
  const program = buildProgram();

  it('lets commands, help, flags and the default command (no word) through', () => {
    for (const argv of [[], ['start'], ['simulator'], ['help'], ['--port', '0'], ['-h']]) {
      expect(unknownCommandMessage(program, argv)).toBeUndefined();
    }
  });

  it('names the nearest command for a typo, and none when nothing is near', () => {
    expect(unknownCommandMessage(program, ['strat'])).toContain("Did you mean 'start'?");
    expect(unknownCommandMessage(program, ['simulatr'])).toContain("Did you mean 'simulator'?");
    const far = unknownCommandMessage(program, ['deploy']);
    expect(far).toContain("unknown command 'deploy'");
    expect(far).not.toContain('Did you mean');
    expect(far).toContain('the commands: start, simulator');
  });
});
