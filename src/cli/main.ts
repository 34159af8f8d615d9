/** src/cli: the headless Twinspace peer (`twinspace serve <folder>`, `twinspace status`). */
process.stdout.write('twinspace\n');
